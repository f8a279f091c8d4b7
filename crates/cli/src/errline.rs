//! The one line `quire` prints when a command fails: the error's chain without the repetitions
//! (store and sqlx errors already include their cause in their own text), and for a full disk
//! what to do about it.

/// `e` and its causes on one line, each cause shown once.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string().replace('\n', " ");
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    if disk_full(e) {
        line.push_str(" — the disk is full; nothing of the failed batch was stored: free space and run the same command again (what is stored is kept, importing again adds only the rest)");
    }
    line
}

/// True when the reader of our output went away (`quire ... | head`): nothing to say then.
pub fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// True when a store write failed because the disk is full.
pub fn disk_full(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<quire_store::Error>().is_some_and(quire_store::Error::is_disk_full)
            || c.downcast_ref::<quire_import::Error>()
                .is_some_and(|i| matches!(i, quire_import::Error::Store(s) if s.is_disk_full()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_already_in_the_text_are_not_repeated() {
        let e = anyhow::anyhow!("disk on fire").context("cannot store: disk on fire");
        assert_eq!(one_line(&e), "cannot store: disk on fire");
        let e = anyhow::anyhow!("plain").context("doing x");
        assert_eq!(one_line(&e), "doing x: plain");
    }
}

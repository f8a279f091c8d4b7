//! Maildir reader: every file of `cur/` and `new/` (`tmp/` holds deliveries in progress and
//! is ignored), in file name order across both. Maildir names start with the delivery time
//! (`1603188000.M1P2.host:2,S`), so name order is arrival order.

use std::io;
use std::path::{Path, PathBuf};

/// One message file of a maildir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaildirEntry {
    pub path: PathBuf,
    pub size: u64,
}

/// True when `dir` has a `cur` or a `new` subdirectory.
pub fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() || dir.join("new").is_dir()
}

/// The message files of a maildir, sorted by file name (then by folder, `cur` before `new`).
/// Hidden files (`.` names, as some clients leave) are not messages.
pub fn list(dir: &Path) -> io::Result<Vec<MaildirEntry>> {
    let mut found = Vec::new();
    for sub in ["cur", "new"] {
        let folder = dir.join(sub);
        if !folder.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let meta = entry.metadata()?;
            if meta.is_file() {
                found.push((name, sub, MaildirEntry { path: entry.path(), size: meta.len() }));
            }
        }
    }
    found.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    Ok(found.into_iter().map(|(_, _, e)| e).collect())
}

/// Reads one message file, refusing (without reading it) one larger than `limit`.
pub fn read_message(entry: &MaildirEntry, limit: usize) -> io::Result<Result<Vec<u8>, u64>> {
    if entry.size > limit as u64 {
        return Ok(Err(entry.size));
    }
    std::fs::read(&entry.path).map(Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(entries: &[MaildirEntry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| {
                let folder = e
                    .path
                    .parent()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned());
                format!(
                    "{}/{}",
                    folder.unwrap_or_default(),
                    e.path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                )
            })
            .collect()
    }

    #[test]
    fn cur_and_new_merge_in_name_order_and_tmp_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir(dir.path().join(sub)).expect("mkdir");
        }
        std::fs::write(dir.path().join("new/1603188002.M3P1.host"), "Subject: 3\n\n")
            .expect("write");
        std::fs::write(dir.path().join("cur/1603188001.M2P1.host:2,S"), "Subject: 2\n\n")
            .expect("write");
        std::fs::write(dir.path().join("cur/1603188000.M1P1.host:2,"), "Subject: 1\n\n")
            .expect("write");
        std::fs::write(dir.path().join("tmp/1603188003.M4P1.host"), "Subject: partial\n")
            .expect("write");
        std::fs::write(dir.path().join("cur/.hidden"), "x").expect("write");
        assert!(is_maildir(dir.path()));
        let entries = list(dir.path()).expect("list");
        assert_eq!(
            names(&entries),
            [
                "cur/1603188000.M1P1.host:2,",
                "cur/1603188001.M2P1.host:2,S",
                "new/1603188002.M3P1.host"
            ]
        );
        assert_eq!(read_message(&entries[2], 100).expect("read"), Ok(b"Subject: 3\n\n".to_vec()));
    }

    #[test]
    fn oversized_file_is_refused_unread() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("new")).expect("mkdir");
        std::fs::write(dir.path().join("new/1"), vec![b'a'; 2000]).expect("write");
        let entries = list(dir.path()).expect("list");
        assert_eq!(read_message(&entries[0], 1000).expect("read"), Err(2000));
    }

    #[test]
    fn directory_without_cur_or_new_is_not_a_maildir() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(!is_maildir(dir.path()));
    }
}

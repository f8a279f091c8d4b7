//! Message-ids as tag names.
//!
//! A message-id may hold characters a ref name cannot (`git check-ref-format`): `..`, `/`, `~`,
//! `^`, `:`, `?`, `*`, `[`, `\`, spaces, control characters, a leading `.`, a trailing `.lock`...
//! We percent-encode, as URLs do: every byte outside `A-Z a-z 0-9 @ - _ + = , .` becomes `%XX`
//! (so `/` never adds a path component), and a `.` is also encoded where git would refuse it
//! (first or last, after another `.`, or starting `.lock` at the end). `%` itself is encoded, so
//! [`message_id_from_ref_name`] gives back exactly the id. Common ids (`<20240101.123-1-a@b.org>`,
//! brackets removed) come out unchanged.

/// Bytes kept as they are (besides `.`, which depends on its neighbours).
fn is_kept(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'@' | b'-' | b'_' | b'+' | b'=' | b',')
}

/// The ref-name component for `message_id` (with or without its `<>`).
pub fn ref_name_for_message_id(message_id: &str) -> String {
    let id = strip_brackets(message_id);
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        let keep = if b == b'.' { dot_is_allowed(bytes, i) } else { is_kept(b) };
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    // A ref named just `@` is refused by git.
    if out == "@" {
        return "%40".to_string();
    }
    out
}

/// A `.` may stay when it is neither first nor last, does not follow another `.`, and does not
/// start a trailing `.lock`.
fn dot_is_allowed(bytes: &[u8], i: usize) -> bool {
    i > 0 && i + 1 < bytes.len() && bytes[i - 1] != b'.' && &bytes[i..] != b".lock"
}

fn strip_brackets(id: &str) -> &str {
    let t = id.trim();
    t.strip_prefix('<').and_then(|s| s.strip_suffix('>')).unwrap_or(t)
}

/// The message-id (without `<>`) a [`ref_name_for_message_id`] name came from; `None` when the
/// name is not one we produce (a stray `%`, or bytes that are not UTF-8).
pub fn message_id_from_ref_name(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The full tag ref for a series: `refs/tags/<prefix>/<encoded message-id>`.
pub fn tag_ref(prefix: &str, message_id: &str) -> String {
    let prefix = prefix.trim_matches('/');
    format!("refs/tags/{prefix}/{}", ref_name_for_message_id(message_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_message_id_is_unchanged() {
        assert_eq!(
            ref_name_for_message_id("<20240101120000.1234-1-alice@example.org>"),
            "20240101120000.1234-1-alice@example.org"
        );
    }

    #[test]
    fn slash_does_not_make_a_path_component() {
        assert_eq!(ref_name_for_message_id("a/b@c"), "a%2Fb@c");
    }

    #[test]
    fn double_dot_keeps_only_the_first() {
        assert_eq!(ref_name_for_message_id("a..b@c"), "a.%2Eb@c");
    }

    #[test]
    fn leading_and_trailing_dots_and_lock_are_encoded() {
        assert_eq!(ref_name_for_message_id(".a."), "%2Ea%2E");
        assert_eq!(ref_name_for_message_id("x.lock"), "x%2Elock");
    }

    #[test]
    fn lone_at_sign_is_encoded() {
        assert_eq!(ref_name_for_message_id("@"), "%40");
        assert_eq!(message_id_from_ref_name("%40").as_deref(), Some("@"));
    }

    #[test]
    fn percent_round_trips() {
        let id = "100%pure%2Fid@x";
        assert_eq!(message_id_from_ref_name(&ref_name_for_message_id(id)).as_deref(), Some(id));
    }

    #[test]
    fn stray_percent_is_not_ours() {
        assert_eq!(message_id_from_ref_name("a%zz"), None);
        assert_eq!(message_id_from_ref_name("a%4"), None);
    }

    #[test]
    fn non_ascii_round_trips() {
        let id = "héllo wörld@x";
        let name = ref_name_for_message_id(id);
        assert!(name.is_ascii());
        assert_eq!(message_id_from_ref_name(&name).as_deref(), Some(id));
    }
}

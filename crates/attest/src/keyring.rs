//! Where patatt public keys come from: keyring directories laid out as patatt's
//! (`<dir>/ed25519/<domain>/<local>/<selector>`) and the `.keys/` directory of a project's tree,
//! read from its mirror at the branch head through quire-git's runner.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;

/// Largest key file read.
const MAX_KEY_BYTES: usize = 16 << 10;

/// One place keys are looked up.
#[derive(Debug, Clone)]
pub enum Keyring {
    /// A directory (`[attestation] keyring`).
    Dir(PathBuf),
    /// `.keys/` at `rev` in the bare repository `repo` (a project's mirror).
    Tree { repo: PathBuf, rev: String },
}

impl Keyring {
    fn describe(&self, path: &str) -> String {
        match self {
            Keyring::Dir(d) => d.join(path).display().to_string(),
            Keyring::Tree { repo, rev } => format!("{}:{rev}:.keys/{path}", repo.display()),
        }
    }
}

/// A key's bytes and where they were found.
type FoundKey = (Vec<u8>, String);

/// The keyrings, searched in order, with what was read (keys are looked up per signed mail).
#[derive(Debug, Default)]
pub struct Keyrings {
    sources: Vec<Keyring>,
    /// `$HOME` for git: a directory of our own.
    home: Option<tempfile::TempDir>,
    found: Mutex<Vec<(String, Option<FoundKey>)>>,
}

/// patatt's key path: `ed25519/<domain>/<local>/<selector>`, lowercased and URL-quoted so that no
/// part of a mail can reach outside the keyring.
pub fn key_path(algorithm: &str, identity: &str, selector: &str) -> Option<String> {
    let (local, domain) = identity.split_once('@')?;
    let q = |s: &str| quote_plus(&s.to_lowercase());
    let parts = [q(algorithm), q(domain), q(local), q(selector)];
    // `.` and `..` survive quoting: a part that is one of them (or empty) would leave the
    // keyring's directory.
    if parts.iter().any(|p| p.is_empty() || p == "." || p == "..") {
        return None;
    }
    Some(parts.join("/"))
}

/// Python's `urllib.parse.quote_plus`: letters, digits and `_.-~` kept, space `+`, the rest
/// `%XX`.
fn quote_plus(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Keyrings {
    pub fn new(sources: Vec<Keyring>) -> Keyrings {
        Keyrings { home: tempfile::tempdir().ok(), sources, found: Mutex::new(Vec::new()) }
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// The ed25519 public key of `identity` under `selector`, and where it was found.
    pub fn ed25519(&self, identity: &str, selector: &str) -> Option<(Vec<u8>, String)> {
        let path = key_path("ed25519", identity, selector)?;
        let mut found = self.found.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, k)) = found.iter().find(|(p, _)| *p == path) {
            return k.clone();
        }
        let key = self.sources.iter().find_map(|s| {
            let text = self.read(s, &path)?;
            let clean: Vec<u8> = text.into_iter().filter(|b| !b.is_ascii_whitespace()).collect();
            let key = base64::engine::general_purpose::STANDARD.decode(clean).ok()?;
            Some((key, s.describe(&path)))
        });
        found.push((path, key.clone()));
        key
    }

    fn read(&self, source: &Keyring, path: &str) -> Option<Vec<u8>> {
        match source {
            Keyring::Dir(dir) => {
                let bytes = std::fs::read(dir.join(path)).ok()?;
                (bytes.len() <= MAX_KEY_BYTES).then_some(bytes)
            }
            Keyring::Tree { repo, rev } => {
                let home = self.home.as_ref()?.path();
                let env = quire_git::run::Env { home, timeout: Duration::from_secs(30) };
                let spec = format!("{rev}:.keys/{path}");
                let out = quire_git::run::output(&env, repo, &["cat-file", "blob", &spec]).ok()?;
                if !out.status.success() || out.stdout.len() > MAX_KEY_BYTES {
                    return None;
                }
                // patatt follows one level of symlink: a blob of one line naming a path.
                let text = &out.stdout;
                if !text.contains(&b'\n') && text.contains(&b'/') {
                    let target = String::from_utf8_lossy(text).into_owned();
                    let dir = std::path::Path::new(".keys").join(path);
                    let linked = normalize(&dir.parent()?.join(target))?;
                    let spec = format!("{rev}:{linked}");
                    let out =
                        quire_git::run::output(&env, repo, &["cat-file", "blob", &spec]).ok()?;
                    return (out.status.success() && out.stdout.len() <= MAX_KEY_BYTES)
                        .then_some(out.stdout);
                }
                Some(out.stdout)
            }
        }
    }
}

/// `a/b/../c` -> `a/c`; `None` when it climbs out of the tree.
fn normalize(p: &std::path::Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            std::path::Component::ParentDir => {
                parts.pop()?;
            }
            std::path::Component::CurDir => {}
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_are_patatts_and_cannot_escape() {
        assert_eq!(
            key_path("ed25519", "Mricon@Kernel.org", "20210505").as_deref(),
            Some("ed25519/kernel.org/mricon/20210505")
        );
        assert_eq!(
            key_path("ed25519", "../x@../../etc", "default").as_deref(),
            Some("ed25519/..%2F..%2Fetc/..%2Fx/default")
        );
        assert_eq!(key_path("ed25519", "nobody", "default"), None);
        assert_eq!(key_path("ed25519", "..@..", "default"), None);
        assert_eq!(key_path("ed25519", "a@b", ""), None);
        assert_eq!(normalize(std::path::Path::new(".keys/a/../b")).as_deref(), Some(".keys/b"));
        assert_eq!(normalize(std::path::Path::new("../x")), None);
    }
}

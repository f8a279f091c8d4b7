//! The two revisions: which headers differ, and their trees on disk. Uses the real `git`, through
//! quire-git's runner: a clean environment (no system or global config, no hooks), a time limit.
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::error::{Error, Result, io};

/// Long enough for `git archive` of a big tree on a slow disk.
const GIT_TIMEOUT: Duration = Duration::from_secs(600);

fn env(home: &Path) -> quire_git::run::Env<'_> {
    quire_git::run::Env { home, timeout: GIT_TIMEOUT }
}

fn run_error(e: quire_git::Error) -> Error {
    match e {
        quire_git::Error::Spawn { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Error::GitMissing
        }
        quire_git::Error::Spawn { source, command } => {
            Error::Io { context: format!("running {command}"), source }
        }
        other => Error::Io { context: "running git".into(), source: std::io::Error::other(other) },
    }
}

fn git(repo: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let home = std::env::temp_dir();
    let out = quire_git::run::output(&env(&home), repo, args).map_err(run_error)?;
    if !out.status.success() {
        return Err(Error::Git {
            repo: repo.to_owned(),
            args: args.join(" "),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(out.stdout)
}

/// The commit a revision names; fails with git's own words for a bad name.
pub fn resolve_commit(repo: &Path, rev: &str) -> Result<String> {
    let spec = format!("{rev}^{{commit}}");
    let out = git(repo, &["rev-parse", "--verify", "--end-of-options", &spec])?;
    Ok(String::from_utf8_lossy(&out).trim().to_owned())
}

/// Paths that differ between the two commits (renames counted as a removal and an addition,
/// since both names are headers users may include).
pub fn changed_paths(repo: &Path, before: &str, after: &str) -> Result<Vec<String>> {
    let out = git(repo, &["diff", "--name-only", "-z", "--no-renames", before, after, "--"])?;
    Ok(out
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect())
}

/// The directory a glob starts in: `xen/include/public/**/*.h` -> `xen/include/public`;
/// empty when the glob can match anywhere.
pub fn literal_prefix(glob: &str) -> String {
    glob.split('/')
        .take_while(|part| !part.contains(['*', '?', '[', '{', '\\']))
        .collect::<Vec<_>>()
        .join("/")
}

/// Directories worth extracting: where the header globs start and the include directories.
/// `None` means the whole tree (a glob like `**/*.h`). Headers include each other by relative
/// paths, so whole directories are taken, not single files.
pub fn directories_needed(globs: &[String], include_dirs: &[String]) -> Option<Vec<String>> {
    let mut dirs = Vec::new();
    for glob in globs {
        let prefix = literal_prefix(glob);
        // A glob naming one file (`include/foo.h`) needs its directory.
        let dir = if prefix == glob.as_str() {
            prefix.rsplit_once('/').map_or(String::new(), |(d, _)| d.to_owned())
        } else {
            prefix
        };
        if dir.is_empty() {
            return None;
        }
        dirs.push(dir);
    }
    for dir in include_dirs {
        let dir = dir.trim_matches('/').trim_start_matches("./");
        if dir.is_empty() || dir == "." || dir.starts_with("..") {
            return None;
        }
        dirs.push(dir.to_owned());
    }
    dirs.sort();
    dirs.dedup();
    Some(dirs)
}

fn exists_in(repo: &Path, commit: &str, path: &str) -> bool {
    let home = std::env::temp_dir();
    quire_git::run::output(&env(&home), repo, &["cat-file", "-e", &format!("{commit}:{path}")])
        .is_ok_and(|o| o.status.success())
}

/// Writes the tree of `commit` (or only `dirs` of it) into `dest` with `git archive | tar -x`:
/// read-only for the repository, no worktree bookkeeping to clean up. Directories missing
/// from this revision are skipped (git archive refuses a pathspec that matches nothing).
pub fn extract_tree(repo: &Path, commit: &str, dest: &Path, dirs: Option<&[String]>) -> Result<()> {
    std::fs::create_dir_all(dest).map_err(io(format!("creating {}", dest.display())))?;
    let mut pathspecs: Vec<&str> = Vec::new();
    if let Some(dirs) = dirs {
        pathspecs =
            dirs.iter().map(String::as_str).filter(|d| exists_in(repo, commit, d)).collect();
        if pathspecs.is_empty() {
            return Ok(());
        }
    }
    let home = std::env::temp_dir();
    let mut archive = quire_git::run::command(&home)
        .current_dir(repo)
        .args(["archive", "--format=tar", commit, "--"])
        .args(&pathspecs)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::GitMissing
            } else {
                Error::Io { context: "running git archive".into(), source: e }
            }
        })?;
    let Some(stdout) = archive.stdout.take() else {
        return Err(Error::Git {
            repo: repo.to_owned(),
            args: format!("archive {commit}"),
            message: "no output".into(),
        });
    };
    let tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(dest)
        .stdin(stdout)
        .output()
        .map_err(io("running tar -x (install it with `apt-get install tar`)"))?;
    let archived = archive.wait_with_output().map_err(io("waiting for git archive"))?;
    if !archived.status.success() {
        return Err(Error::Git {
            repo: repo.to_owned(),
            args: format!("archive {commit}"),
            message: String::from_utf8_lossy(&archived.stderr).trim().to_owned(),
        });
    }
    if !tar.status.success() {
        return Err(Error::Io {
            context: format!("tar -x of {commit} into {}", dest.display()),
            source: std::io::Error::other(String::from_utf8_lossy(&tar.stderr).trim().to_owned()),
        });
    }
    remove_escaping_symlinks(dest)
}

/// A tree from a mailing list may hold `evil.h -> /etc/passwd`; clang would follow it and
/// quote the machine's file in the report. Links leading out of the tree (or nowhere) are
/// removed, so such an include fails as a missing file.
pub fn remove_escaping_symlinks(root: &Path) -> Result<()> {
    let root = root.canonicalize().map_err(io(format!("opening {}", root.display())))?;
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(io(format!("listing {}", dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(io(format!("listing {}", dir.display())))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(io(format!("reading {}", path.display())))?;
            if kind.is_symlink() {
                let inside = path.canonicalize().is_ok_and(|target| target.starts_with(&root));
                if !inside {
                    std::fs::remove_file(&path)
                        .map_err(io(format!("removing {}", path.display())))?;
                }
            } else if kind.is_dir() {
                pending.push(path);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xen_public_glob_extracts_only_the_public_directory_and_include_dirs() {
        let dirs =
            directories_needed(&["xen/include/public/**/*.h".into()], &["xen/include/".into()]);
        assert_eq!(dirs, Some(vec!["xen/include".to_owned(), "xen/include/public".to_owned()]));
        assert_eq!(
            directories_needed(&["include/uapi/linux/io_uring.h".into()], &[]),
            Some(vec!["include/uapi/linux".to_owned()])
        );
        assert_eq!(
            directories_needed(&["**/*.h".into()], &[]),
            None,
            "matches anywhere: whole tree"
        );
        assert_eq!(directories_needed(&["*.h".into()], &[]), None);
        assert_eq!(directories_needed(&["inc/*.h".into()], &["../outside".into()]), None);
    }
}

//! The two revisions: which headers differ, and their trees on disk. Uses the real `git`.
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Error, io, Result};

fn git(repo: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .map_err(|e| if e.kind() == std::io::ErrorKind::NotFound { Error::GitMissing } else { Error::Io { context: "running git".into(), source: e } })?;
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

/// Writes the tree of `commit` into `dest` with `git archive | tar -x`: read-only for the
/// repository (no worktree bookkeeping to clean up), and the whole tree, since headers
/// include each other by relative paths.
pub fn extract_tree(repo: &Path, commit: &str, dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest).map_err(io(format!("creating {}", dest.display())))?;
    let mut archive = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["archive", "--format=tar", commit])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| if e.kind() == std::io::ErrorKind::NotFound { Error::GitMissing } else { Error::Io { context: "running git archive".into(), source: e } })?;
    let Some(stdout) = archive.stdout.take() else {
        return Err(Error::Git { repo: repo.to_owned(), args: format!("archive {commit}"), message: "no output".into() });
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
    Ok(())
}

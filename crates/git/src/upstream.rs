//! Talking to the rest of the world: pushing results as tags, reading new upstream commits.

use crate::run::{Log, git, git_ok};
use crate::{Error, Mirror};

/// Pushes `commit` to `push_url` as `refs/tags/<prefix>/<encoded message-id>` (see
/// [`crate::refname`]), so that `git fetch <push_url> tags/<prefix>/<encoded id>` gets exactly
/// it. The push is forced: applying again (on a newer base) replaces the tag. Returns the ref.
pub fn push_tag(
    mirror: &Mirror,
    push_url: &str,
    prefix: &str,
    message_id: &str,
    commit: &str,
) -> Result<String, Error> {
    let tag = crate::tag_ref(prefix, message_id);
    check_ref_format(mirror, &tag)?;
    let full = mirror.resolve_commit(commit)?.ok_or_else(|| Error::Git {
        command: "git push".into(),
        message: format!("commit {commit} is not in the mirror"),
    })?;
    if push_url.starts_with('-') {
        return Err(Error::Git {
            command: "git push".into(),
            message: format!("bad url {push_url}"),
        });
    }
    let mut log = Log::default();
    let refspec = format!("+{full}:{tag}");
    mirror.git_ok(&mut log, &["push", "--quiet", "--no-verify", push_url, &refspec])?;
    Ok(tag)
}

fn check_ref_format(mirror: &Mirror, name: &str) -> Result<(), Error> {
    let mut log = Log::default();
    let ran = mirror.git(&mut log, &["check-ref-format", name])?;
    if ran.success {
        Ok(())
    } else {
        Err(Error::BadRef {
            name: name.to_string(),
            message: "refused by git check-ref-format".into(),
        })
    }
}

/// One new upstream commit, as needed to find the stored patch it merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamCommit {
    pub commit: String,
    /// `git patch-id --stable`; `None` for a commit without a diff.
    pub patch_id: Option<String>,
    pub author_email: String,
    pub subject: String,
}

/// The non-merge commits in `old..new` (all of `new`'s history when `old` is `None`), newest
/// first, with their stable patch-ids.
pub fn patch_ids(
    mirror: &Mirror,
    old: Option<&str>,
    new: &str,
) -> Result<Vec<UpstreamCommit>, Error> {
    let new = mirror
        .resolve_commit(new)?
        .ok_or_else(|| Error::NoBase(format!("{new} unknown to the tree")))?;
    let range = match old {
        Some(old) => {
            let old = mirror
                .resolve_commit(old)?
                .ok_or_else(|| Error::NoBase(format!("{old} unknown to the tree")))?;
            format!("{old}..{new}")
        }
        None => new,
    };
    let mut log = Log::default();
    let meta = mirror.git_ok(
        &mut log,
        &["log", "--no-merges", "-z", "--format=%H%x00%ae%x00%s", &range, "--"],
    )?;
    let diffs = mirror.git_ok(
        &mut log,
        &["log", "--no-merges", "-p", "--no-color", "--format=commit %H", &range, "--"],
    )?;
    let ids = git_ok(
        &mut log,
        &mirror.env(),
        mirror.dir(),
        &["patch-id", "--stable"],
        Some(diffs.stdout.as_bytes()),
    )?;
    let by_commit = parse_patch_ids(&ids.stdout);
    Ok(parse_log_meta(&meta.stdout)
        .into_iter()
        .map(|(commit, author_email, subject)| UpstreamCommit {
            patch_id: by_commit.iter().find(|(c, _)| *c == commit).map(|(_, p)| p.clone()),
            commit,
            author_email,
            subject,
        })
        .collect())
}

/// The stable patch-id of every message of an mbox (the series as `quire am` writes it, or
/// `git format-patch` output), in order; `None` for a message without a diff (cover letter).
/// Reads only the mbox: no repository is involved.
///
/// `git patch-id` cuts its input at `commit <hex>` / `From <hex>` lines; `quire am` writes
/// `From git@z ...`, so each message is given its own `commit <n>` line, and the id git prints
/// next to it says which message it belongs to. Lines of the message itself that start with
/// `commit ` or `From ` (a commit message quoting `commit 4eec12f4...`, as kernel mails do) are
/// indented by one space so git does not take them for the start of another patch: they precede
/// the diff, which patch-id ignores anyway.
pub fn patch_ids_of_mbox(mirror: &Mirror, mbox: &[u8]) -> Result<Vec<Option<String>>, Error> {
    let messages = crate::mbox::split_mbox(mbox);
    let mut input = Vec::with_capacity(mbox.len() + messages.len() * 48);
    for (i, message) in messages.iter().enumerate() {
        input.extend_from_slice(format!("commit {:040x}\n", i + 1).as_bytes());
        for line in message.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(b"commit ") || line.starts_with(b"From ") {
                input.push(b' ');
            }
            input.extend_from_slice(line);
        }
        if !message.ends_with(b"\n") {
            input.push(b'\n');
        }
    }
    let mut log = Log::default();
    let ran = git(&mut log, &mirror.env(), mirror.home(), &["patch-id", "--stable"], Some(&input))?;
    if !ran.success {
        return Err(Error::Git { command: "git patch-id --stable".into(), message: ran.stderr });
    }
    let mut ids = vec![None; messages.len()];
    for (marker, patch_id) in parse_patch_ids(&ran.stdout) {
        let slot = usize::from_str_radix(&marker, 16).ok().and_then(|n| n.checked_sub(1));
        if let Some(slot) = slot.and_then(|n| ids.get_mut(n)) {
            *slot = Some(patch_id);
        }
    }
    Ok(ids)
}

/// `git patch-id` lines: "<patch-id> <commit-id>".
fn parse_patch_ids(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(patch, commit)| (commit.trim().to_string(), patch.to_string()))
        .collect()
}

/// `git log -z --format=%H%x00%ae%x00%s` records: three NUL-separated fields, NUL between records.
fn parse_log_meta(out: &str) -> Vec<(String, String, String)> {
    let fields: Vec<&str> = out.split('\0').collect();
    fields
        .chunks(3)
        .filter(|c| c.len() == 3 && !c[0].trim().is_empty())
        .map(|c| (c[0].trim().to_string(), c[1].to_string(), c[2].to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_meta_records_split_on_nul() {
        let out = "aaa\0a@x\0first\0bbb\0b@y\0second: with\ttab";
        assert_eq!(
            parse_log_meta(out),
            vec![
                ("aaa".into(), "a@x".into(), "first".into()),
                ("bbb".into(), "b@y".into(), "second: with\ttab".into())
            ]
        );
    }
}

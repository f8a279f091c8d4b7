//! `quire watch URL...`: follows live mail feeds until stopped. Each URL runs on its own:
//!
//! - `imap://USER@HOST[:PORT]/MAILBOX` and `imaps://...`: IDLE when the server has it, polling
//!   otherwise, resuming after the last stored UID (see `quire_import::imap`);
//! - `pi+file:///path/to/inbox`: a public-inbox (v1 or v2) on this machine, imported
//!   incrementally from its git history every `--poll` seconds;
//! - `pi+https://...`, `pi+http://...`, `pi+git://...`, `pi+ssh://...`: a public-inbox git
//!   repository (v1, or one v2 epoch such as `.../git/0.git`), mirrored under
//!   `<data-dir>/pi-mirrors/` with `git clone --mirror`, fetched and imported every `--poll`.
//!
//! Every round stores its position with the mail it stored, so a watch killed at any point
//! starts again where it stood, and nothing is imported twice.

use std::path::{Path, PathBuf};
use std::process::{Command as Process, ExitCode, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use quire_import::imap::{ImapSource, WatchOptions, watch_imap};
use quire_store::Store;

#[derive(Args)]
pub struct WatchArgs {
    /// Feeds to follow: imap://USER@HOST/MAILBOX, imaps://..., pi+file:///PATH, pi+https://URL.
    #[arg(required = true, value_name = "URL")]
    urls: Vec<String>,
    /// The project of mail whose List-Id and To/Cc name no configured project.
    #[arg(long)]
    project: Option<String>,
    /// A file holding the IMAP password (its first line). Else the environment's QUIRE_IMAP_PASSWORD.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Seconds between looks at a feed (for IMAP with IDLE: the longest wait before looking anyway).
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    poll: u64,
    /// Fetch what is new once from every feed, then exit.
    #[arg(long)]
    once: bool,
}

#[derive(Debug)]
enum Feed {
    Imap(ImapSource),
    /// A public-inbox on this machine.
    PiLocal(PathBuf),
    /// A public-inbox git repository to mirror.
    PiRemote(String),
}

fn parse_feed(url: &str) -> Result<Feed> {
    if url.starts_with("imap://") || url.starts_with("imaps://") {
        return ImapSource::parse(url).map(Feed::Imap).map_err(anyhow::Error::msg);
    }
    if let Some(path) = url.strip_prefix("pi+file://") {
        if !path.starts_with('/') {
            bail!("{url:?}: write pi+file:///ABSOLUTE/PATH (three slashes)");
        }
        let path = percent_encoding::percent_decode_str(path).decode_utf8_lossy().into_owned();
        return Ok(Feed::PiLocal(PathBuf::from(path)));
    }
    if let Some(rest) = url.strip_prefix("pi+")
        && ["https://", "http://", "git://", "ssh://"].iter().any(|s| rest.starts_with(s))
    {
        return Ok(Feed::PiRemote(rest.to_string()));
    }
    bail!(
        "{url:?} is not a feed quire can watch: use imap://USER@HOST/MAILBOX, imaps://..., pi+file:///PATH or pi+https://URL"
    )
}

fn password(args: &WatchArgs) -> Result<String> {
    if let Some(file) = &args.password_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the password file {}", file.display()))?;
        return Ok(text.lines().next().unwrap_or("").to_string());
    }
    match std::env::var("QUIRE_IMAP_PASSWORD") {
        Ok(p) => Ok(p),
        Err(_) => bail!(
            "an IMAP feed needs a password: give --password-file FILE or set QUIRE_IMAP_PASSWORD"
        ),
    }
}

pub async fn watch_cmd(
    store: &Store,
    data_dir: &Path,
    args: WatchArgs,
    quiet: bool,
) -> Result<ExitCode> {
    let feeds = args.urls.iter().map(|u| parse_feed(u)).collect::<Result<Vec<_>>>()?;
    let needs_password = feeds.iter().any(|f| matches!(f, Feed::Imap(_)));
    let password = if needs_password { password(&args)? } else { String::new() };
    let poll = Duration::from_secs(args.poll.max(1));
    // Mail arriving now: DKIM keys are current, so DNS is asked unless configured off.
    let section = crate::config::load(data_dir)?.attestation;
    let verifier =
        crate::attest::verifier(store, data_dir, &section, section.dkim_on_watch).await?;
    let mut watches = Vec::new();
    for (feed, url) in feeds.into_iter().zip(args.urls.iter().cloned()) {
        let store = store.clone();
        let project = args.project.clone();
        let (password, once, data_dir) = (password.clone(), args.once, data_dir.to_path_buf());
        let attest = Some(verifier.clone());
        watches.push(async move {
            let result = match feed {
                Feed::Imap(src) => {
                    let opts = WatchOptions { project, poll, once, attest, ..Default::default() };
                    if !quiet {
                        eprintln!("quire: watching {url}");
                    }
                    watch_imap(&store, &src, &password, &opts)
                        .await
                        .map(|s| {
                            if !quiet {
                                println!(
                                    "{url}: fetched {}, {} new, {} already stored",
                                    s.fetched, s.new_messages, s.duplicates
                                );
                            }
                        })
                        .map_err(anyhow::Error::from)
                }
                Feed::PiLocal(path) => {
                    let feed = PiFeed { remote: None, path, project, attest };
                    watch_public_inbox(&store, &url, feed, poll, once, quiet).await
                }
                Feed::PiRemote(remote) => {
                    let mirror = data_dir.join("pi-mirrors").join(mirror_name(&remote));
                    let feed = PiFeed { remote: Some(remote), path: mirror, project, attest };
                    watch_public_inbox(&store, &url, feed, poll, once, quiet).await
                }
            };
            result.with_context(|| format!("watching {url}"))
        });
    }
    // All feeds in this task: the first that fails for good stops the command.
    futures::future::try_join_all(watches).await?;
    Ok(ExitCode::SUCCESS)
}

/// A directory name for a mirror of `url`: readable and without path separators.
fn mirror_name(url: &str) -> String {
    let mut name: String = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    name.truncate(150);
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(url.as_bytes()));
    format!("{name}-{}.git", &digest[..12])
}

/// A public-inbox followed: where it comes from, where its copy is, and how its mail is stored.
struct PiFeed {
    remote: Option<String>,
    path: PathBuf,
    project: Option<String>,
    attest: Option<std::sync::Arc<quire_attest::Verifier>>,
}

async fn watch_public_inbox(
    store: &Store,
    url: &str,
    feed: PiFeed,
    poll: Duration,
    once: bool,
    quiet: bool,
) -> Result<()> {
    let PiFeed { remote, path, project, attest } = feed;
    if !quiet {
        eprintln!("quire: watching {url}");
    }
    let mut backoff = Duration::from_secs(1);
    loop {
        let round = async {
            if let Some(remote) = &remote {
                let (remote, path) = (remote.clone(), path.clone());
                tokio::task::spawn_blocking(move || mirror(&remote, &path))
                    .await
                    .context("the git task stopped")??;
            }
            if !path.exists() {
                bail!("{} does not exist", path.display());
            }
            if !quire_import::public_inbox::is_public_inbox(&path) {
                bail!(
                    "{} is not a public-inbox (no git/N.git epochs, not a bare git repository)",
                    path.display()
                );
            }
            let opts = quire_import::ImportOptions {
                project: project.clone(),
                attest: attest.clone(),
                ..Default::default()
            };
            let summary = quire_import::import(
                store,
                &[quire_import::Input::Path(path.clone())],
                &opts,
                &|_| {},
            )
            .await?;
            Ok::<_, anyhow::Error>(summary)
        };
        match round.await {
            Ok(summary) => {
                backoff = Duration::from_secs(1);
                if summary.messages > 0 && !quiet {
                    println!("{url}: {summary}");
                }
                tracing::info!(feed = url, new = summary.messages, "public-inbox round");
                if once {
                    if !quiet && summary.messages == 0 {
                        println!("{url}: nothing new");
                    }
                    return Ok(());
                }
                tokio::time::sleep(poll).await;
            }
            Err(e) if once => return Err(e),
            Err(e) => {
                tracing::warn!(feed = url, error = format!("{e:#}"), retry_in = ?backoff, "public-inbox round failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(poll.max(Duration::from_secs(1)) * 5);
            }
        }
    }
}

/// Clones `remote` as a bare mirror at `path` the first time, fetches it afterwards.
fn mirror(remote: &str, path: &Path) -> Result<()> {
    let mut git = Process::new("git");
    git.env("GIT_TERMINAL_PROMPT", "0").stdin(Stdio::null());
    if path.join("HEAD").exists() {
        git.arg("--git-dir").arg(path).args(["fetch", "--quiet", "--prune", "origin"]);
    } else {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        git.args(["clone", "--quiet", "--mirror", remote]).arg(path);
    }
    let out = git.output().context("cannot run git: is it installed?")?;
    if !out.status.success() {
        bail!("git could not mirror {remote}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feeds_are_told_apart_and_bad_urls_say_what_to_write() {
        assert!(matches!(parse_feed("imap://a@b/INBOX").unwrap(), Feed::Imap(_)));
        assert!(
            matches!(parse_feed("pi+file:///srv/inbox").unwrap(), Feed::PiLocal(p) if p == Path::new("/srv/inbox"))
        );
        assert!(
            matches!(parse_feed("pi+https://lore.example.org/list/git/0.git").unwrap(), Feed::PiRemote(u) if u == "https://lore.example.org/list/git/0.git")
        );
        assert!(
            parse_feed("pi+file://relative").unwrap_err().to_string().contains("three slashes")
        );
        assert!(parse_feed("ftp://x").unwrap_err().to_string().contains("not a feed"));
        let name = mirror_name("https://lore.example.org/list/git/0.git");
        assert!(
            name.starts_with("lore.example.org_list_git_0.git-") && !name.contains('/'),
            "{name}"
        );
    }
}

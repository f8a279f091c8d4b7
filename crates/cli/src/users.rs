//! `quire user`: accounts for the Patchwork and native APIs (a token created with
//! `quire token create --user NAME` acts as that user), and their roles per project.

use anyhow::Result;
use clap::Subcommand;
use quire_store::Store;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add an account, optionally with roles: `quire user add maint maint@example.org
    /// --name "Mai Ntainer" --maintainer linux-mm`.
    Add {
        username: String,
        email: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Make the user a maintainer of this project (may be repeated).
        #[arg(long, value_name = "PROJECT")]
        maintainer: Vec<String>,
        /// Give a role in a project, as ROLE:PROJECT (maintainer, reviewer, tester, admin).
        #[arg(long, value_name = "ROLE:PROJECT")]
        role: Vec<String>,
        /// Set a password for the web login, read from this file's first line (`-`: stdin).
        /// Without one the user cannot log in on the web (`quire user passwd` sets it later).
        #[arg(long, value_name = "FILE")]
        password_file: Option<std::path::PathBuf>,
    },
    /// Set (or with --remove, remove) a user's web password (stored as an argon2id hash); ends
    /// the user's web sessions.
    Passwd {
        username: String,
        /// Read the password from this file's first line (`-`: stdin).
        #[arg(long, value_name = "FILE", required_unless_present = "remove")]
        password_file: Option<std::path::PathBuf>,
        /// Remove the password: the user can no longer log in on the web.
        #[arg(long, conflicts_with = "password_file")]
        remove: bool,
    },
    /// Give an existing user a role in a project.
    Grant {
        username: String,
        /// maintainer, reviewer, tester or admin.
        role: String,
        project: String,
    },
    /// List accounts with their roles.
    List,
}

pub async fn user_cmd(store: &Store, cmd: UserCommand) -> Result<ExitCode> {
    match cmd {
        UserCommand::Add { username, email, name, maintainer, role, password_file } => {
            let password = password_file.as_deref().map(read_password).transpose()?;
            let mut grants: Vec<(String, String)> =
                maintainer.into_iter().map(|p| ("maintainer".to_string(), p)).collect();
            for r in role {
                let Some((role, project)) = r.split_once(':') else {
                    anyhow::bail!("--role {r:?}: write ROLE:PROJECT, e.g. maintainer:linux-mm");
                };
                grants.push((role.to_string(), project.to_string()));
            }
            let projects = store.project_refs().await?;
            for (role, project) in &grants {
                if !quire_store::ROLES.contains(&role.as_str()) {
                    anyhow::bail!(
                        "unknown role {role:?}: use one of {}",
                        quire_store::ROLES.join(", ")
                    );
                }
                if !projects.iter().any(|p| &p.config.name == project) {
                    anyhow::bail!(
                        "no project {project:?}; add it first with `quire project add {project}`"
                    );
                }
            }
            if let Some(p) = &password
                && p.chars().count() < quire_store::accounts::MIN_PASSWORD_LEN
            {
                anyhow::bail!(
                    "password too short: use at least {} characters",
                    quire_store::accounts::MIN_PASSWORD_LEN
                );
            }
            let user = store.add_user(&username, &email, &name).await?;
            for (role, project) in grants {
                store.grant_role(user.id, &project, &role).await?;
            }
            if let Some(p) = &password {
                store.set_password(user.id, Some(p)).await?;
            }
            println!("{}", user.id);
            eprintln!(
                "quire: user {} added; `quire token create NAME --user {}` gives it an API token",
                user.username, user.username
            );
        }
        UserCommand::Grant { username, role, project } => {
            let Some(user) = store.user_by_name(&username).await? else {
                anyhow::bail!("no user {username:?}; see `quire user list`");
            };
            store.grant_role(user.id, &project, &role).await?;
        }
        UserCommand::Passwd { username, password_file, remove } => {
            let Some(user) = store.user_by_name(&username).await? else {
                anyhow::bail!("no user {username:?}; see `quire user list`");
            };
            let password = if remove {
                None
            } else {
                password_file.as_deref().map(read_password).transpose()?
            };
            store.set_password(user.id, password.as_deref()).await?;
            match password {
                Some(_) => {
                    eprintln!("quire: password of {} set; their web sessions ended", user.username)
                }
                None => eprintln!(
                    "quire: password of {} removed: they cannot log in on the web",
                    user.username
                ),
            }
        }
        UserCommand::List => {
            for u in store.users(None).await? {
                let roles: Vec<String> =
                    store.roles(u.id).await?.into_iter().map(|(p, r)| format!("{r}:{p}")).collect();
                println!("{}\t{}\t{}\t{}", u.id, u.username, u.email, roles.join(","));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The first line of `path` (`-`: stdin), without its line ending.
fn read_password(path: &std::path::Path) -> Result<String> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| anyhow::anyhow!("cannot read a password from stdin: {e}"))?
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read the password file {}: {e}", path.display()))?
    };
    let line = text.lines().next().unwrap_or("").to_string();
    if line.is_empty() {
        anyhow::bail!(
            "the password file {} is empty: write the password on its first line",
            path.display()
        );
    }
    Ok(line)
}

/// `quire token create NAME --user USER`.
pub async fn create_user_token(store: &Store, name: &str, username: &str) -> Result<ExitCode> {
    let Some(user) = store.user_by_name(username).await? else {
        anyhow::bail!("no user {username:?}; add it with `quire user add {username} EMAIL`");
    };
    let (token, secret) = store.create_user_token(name, user.id).await?;
    println!("{secret}");
    eprintln!(
        "quire: token {} ({}, user {}): keep the line above, it is not shown again",
        token.id, token.name, user.username
    );
    Ok(ExitCode::SUCCESS)
}

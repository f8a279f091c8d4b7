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
        UserCommand::Add { username, email, name, maintainer, role } => {
            let mut grants: Vec<(String, String)> = maintainer.into_iter().map(|p| ("maintainer".to_string(), p)).collect();
            for r in role {
                let Some((role, project)) = r.split_once(':') else {
                    anyhow::bail!("--role {r:?}: write ROLE:PROJECT, e.g. maintainer:linux-mm");
                };
                grants.push((role.to_string(), project.to_string()));
            }
            let projects = store.project_refs().await?;
            for (role, project) in &grants {
                if !quire_store::ROLES.contains(&role.as_str()) {
                    anyhow::bail!("unknown role {role:?}: use one of {}", quire_store::ROLES.join(", "));
                }
                if !projects.iter().any(|p| &p.config.name == project) {
                    anyhow::bail!("no project {project:?}; add it first with `quire project add {project}`");
                }
            }
            let user = store.add_user(&username, &email, &name).await?;
            for (role, project) in grants {
                store.grant_role(user.id, &project, &role).await?;
            }
            println!("{}", user.id);
            eprintln!("quire: user {} added; `quire token create NAME --user {}` gives it an API token", user.username, user.username);
        }
        UserCommand::Grant { username, role, project } => {
            let Some(user) = store.user_by_name(&username).await? else {
                anyhow::bail!("no user {username:?}; see `quire user list`");
            };
            store.grant_role(user.id, &project, &role).await?;
        }
        UserCommand::List => {
            for u in store.users(None).await? {
                let roles: Vec<String> = store.roles(u.id).await?.into_iter().map(|(p, r)| format!("{r}:{p}")).collect();
                println!("{}\t{}\t{}\t{}", u.id, u.username, u.email, roles.join(","));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `quire token create NAME --user USER`.
pub async fn create_user_token(store: &Store, name: &str, username: &str) -> Result<ExitCode> {
    let Some(user) = store.user_by_name(username).await? else {
        anyhow::bail!("no user {username:?}; add it with `quire user add {username} EMAIL`");
    };
    let (token, secret) = store.create_user_token(name, user.id).await?;
    println!("{secret}");
    eprintln!("quire: token {} ({}, user {}): keep the line above, it is not shown again", token.id, token.name, user.username);
    Ok(ExitCode::SUCCESS)
}

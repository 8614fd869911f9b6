//! The command line: `serve` (the default), `migrate`, `token`, `rebuild`, `openapi`, `admin reset`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::Duration;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::domain::DomainError;
use crate::domain::clock::SystemClock;
use crate::service::ServiceError;

#[derive(Debug, Parser)]
#[command(
    name = "phoneverify",
    version,
    about = "Phone number verification by SMS, ZITADEL-compatible API"
)]
pub struct Cli {
    /// Settings file (TOML) applied over the defaults; the environment overrides both.
    #[arg(long, global = true, env = "PHONEVERIFY_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API and the SMS delivery worker (the default).
    Serve,
    /// Apply database migrations and bootstrap an empty database, then exit.
    Migrate {
        /// Create the SQLite database file if it does not exist (without it, a missing file is an error: it
        /// usually means the command ran from another directory or with another configuration).
        #[arg(long)]
        create: bool,
    },
    /// Print a bearer token for an existing, active user.
    Token {
        #[arg(long)]
        user_id: String,
        /// Lifetime in seconds (default: auth.token_ttl_secs).
        #[arg(long)]
        ttl: Option<i64>,
    },
    /// Rebuild every projection (users, orgs, memberships) from the event log. Safe while servers run:
    /// writers wait for it.
    Rebuild,
    /// Print the OpenAPI document.
    Openapi,
    /// Operator tasks on the instance.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The key that signs this service's tokens.
    SigningKey {
        #[command(subcommand)]
        command: SigningKeyCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum SigningKeyCommand {
    /// Make a new signing key. New tokens are signed with it; the old key stays in the JWKS and verifies the
    /// tokens it signed for auth.admin_token_ttl_secs. Running servers pick the new key up when they first
    /// see a token it signed (or on their next start).
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make the bootstrap admin an active instance owner again (reactivating it if it was deactivated) and
    /// write a fresh admin token to data_dir/admin.token: the way back in when no administrator can sign in.
    Reset,
}

pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = crate::Application::build(config).await?;
            app.run_until_stopped(crate::shutdown_signal()).await
        }
        Command::Migrate { create } => {
            if !create {
                require_existing_database(&config)?;
            }
            let services = crate::build_services(config, Arc::new(SystemClock)).await?;
            services.store.close().await;
            println!("database is up to date");
            Ok(())
        }
        Command::Token { user_id, ttl } => {
            let ttl =
                ttl.unwrap_or(i64::try_from(config.auth.token_ttl.as_secs()).unwrap_or(i64::MAX));
            let max = i64::try_from(crate::config::TEN_YEARS).unwrap_or(i64::MAX);
            anyhow::ensure!(
                (1..=max).contains(&ttl),
                "--ttl must be between 1 and {max} seconds"
            );
            require_existing_database(&config)?;
            let services = crate::build_services(config, Arc::new(SystemClock)).await?;
            let result = match services.load_user(&user_id).await {
                Err(ServiceError::Domain(DomainError::UserNotFound)) => {
                    Err(anyhow::anyhow!("user {user_id} does not exist"))
                }
                Err(e) => Err(e.into()),
                Ok(u) if !u.can_authenticate() => Err(anyhow::anyhow!(
                    "user {user_id} is {} and cannot get a token",
                    u.state.as_str()
                )),
                Ok(u) => services
                    .mint_token(&u.id, Duration::seconds(ttl))
                    .context("cannot sign token"),
            };
            services.store.close().await;
            println!("{}", result?);
            Ok(())
        }
        Command::Rebuild => {
            require_existing_database(&config)?;
            let services = crate::build_services(config, Arc::new(SystemClock)).await?;
            let result = services.rebuild_projections().await;
            services.store.close().await;
            println!("rebuilt all projections from {} events", result?);
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::Reset,
        } => {
            require_existing_database(&config)?;
            let services = crate::build_services(config, Arc::new(SystemClock)).await?;
            let reset = services.reset_instance_owner().await;
            let written = match &reset {
                Ok(outcome) => crate::write_admin_token(&services, outcome.user_id()).map(Some),
                Err(_) => Ok(None),
            };
            services.store.close().await;
            let path = written?;
            match (reset, path) {
                (Ok(outcome), Some(path)) => {
                    let what = match outcome {
                        crate::service::OwnerReset::Reactivated(_) => "reactivated",
                        crate::service::OwnerReset::AlreadyActive(_) => "was active",
                    };
                    println!(
                        "instance owner {} {what}; new admin token in {}",
                        outcome.user_id(),
                        path.display()
                    );
                    Ok(())
                }
                (Err(ServiceError::Domain(DomainError::UserNotFound)), _) => Err(anyhow::anyhow!(
                    "the bootstrap admin was deleted; an instance owner that is still active can sign in \
                     with `phoneverify token --user-id <id>`"
                )),
                (Err(e), _) => Err(e.into()),
                (Ok(_), None) => Err(anyhow::anyhow!("no admin token was written")),
            }
        }
        Command::SigningKey {
            command: SigningKeyCommand::Rotate,
        } => {
            require_existing_database(&config)?;
            let master = std::sync::Arc::new(crate::master_key::MasterKey::load(&config)?);
            let services = crate::build_services(config, Arc::new(SystemClock)).await?;
            let keys = crate::crypto::StoredSigningKeys {
                store: services.store.clone(),
                master,
            };
            let (old, new) = keys.rotate(services.clock.now()).await?;
            println!(
                "signing key rotated: {new} signs new tokens; {old} still verifies the tokens it signed"
            );
            Ok(())
        }
        Command::Openapi => {
            println!("{}", crate::api::openapi().to_pretty_json()?);
            Ok(())
        }
    }
}

/// Commands other than `serve` work on an existing installation: run from the wrong directory they would
/// otherwise create an empty database with a new admin and then report that the user does not exist.
fn require_existing_database(config: &Config) -> anyhow::Result<()> {
    let url = config.database_url();
    if let Some(file) = crate::store::sqlite_database_file(&url)
        && !file.exists()
    {
        anyhow::bail!(
            "no database at {} (run from the directory the server runs in, or pass the same --config or \
             PHONEVERIFY_DATABASE_URL / PHONEVERIFY_DATA_DIR as the server); `phoneverify migrate --create` \
             or starting the server creates one",
            file.display()
        );
    }
    Ok(())
}

//! The command line: `serve` (the default), `migrate`, `token`, `rebuild`, `openapi`.

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
    Migrate,
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
}

pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = crate::Application::build(config).await?;
            app.run_until_stopped(crate::shutdown_signal()).await
        }
        Command::Migrate => {
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
            let services = crate::build_services(config, Arc::new(SystemClock)).await?;
            let result = services.rebuild_projections().await;
            services.store.close().await;
            println!("rebuilt all projections from {} events", result?);
            Ok(())
        }
        Command::Openapi => {
            println!("{}", crate::api::openapi().to_pretty_json()?);
            Ok(())
        }
    }
}

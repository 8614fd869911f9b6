#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
//! phoneverify: manages users' phone numbers and proves control of them by SMS codes, with an HTTP API
//! wire-compatible with ZITADEL's user phone API.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod master_key;
pub mod metrics;
pub mod notify;
pub mod private_files;
pub mod rpc;
pub mod server;
pub mod service;
pub mod store;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use chrono::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::{ExternalIssuers, KeyRing, TokenService};
use crate::config::Config;
use crate::crypto::{Secrets, StoredSigningKeys};
use crate::domain::clock::{Clock, SystemClock};
use crate::master_key::MasterKey;
use crate::notify::retention::Retention;
use crate::notify::{SmsProvider, Worker};
use crate::service::Services;

/// The HTTP application over the given services: what the server runs and what tests drive.
pub fn build_app(services: Arc<Services>) -> Router {
    let limits = rpc::RpcLimits {
        max_message_bytes: services.config.http.max_body_bytes,
        default_timeout: services.config.http.request_timeout,
    };
    let rest = rpc::Rest::new(api::in_process_router(services.clone()));
    let metrics = services.metrics.clone();
    api::router(services).merge(rpc::routes(rest, limits, metrics))
}

/// Connects the store (applying migrations), loads or creates the key material, and bootstraps an empty
/// database. No listener, no worker.
pub async fn build_services(
    config: Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<Services>> {
    let url = config.database_url();
    // Whatever the database, data_dir holds the admin token file.
    private_files::create_private_dir(&config.data_dir)
        .with_context(|| format!("cannot create data_dir {}", config.data_dir.display()))?;
    let store = store::connect(
        &url,
        config.database.max_connections,
        config.database.acquire_timeout,
    )
    .await
    .with_context(|| format!("cannot open database {}", config::redact_url(&url)))?;
    let master = Arc::new(MasterKey::load(&config)?);
    let secrets = Secrets::load_or_create(store.as_ref(), &master, clock.now())
        .await
        .context("cannot load key material")?;
    let stored_keys = StoredSigningKeys {
        store: store.clone(),
        master,
    };
    let signing_keys = stored_keys
        .load_or_create(clock.now())
        .await
        .context("cannot load the signing keys")?;
    // Retired keys verify the tokens they signed for as long as the longest token this service mints lives.
    let retention =
        chrono::Duration::from_std(config.auth.admin_token_ttl).unwrap_or(chrono::Duration::MAX);
    let ring = KeyRing::with_source(signing_keys, Box::new(stored_keys), retention);
    let external = ExternalIssuers::new(
        config.auth.issuers.clone(),
        chrono::Duration::from_std(config.auth.leeway).unwrap_or(chrono::Duration::MAX),
    )?;
    let tokens = TokenService::new(
        ring,
        config.auth.issuer.clone(),
        config.auth.audience.clone(),
        config.auth.leeway,
    )
    .with_external(external);
    let services = Arc::new(Services::new(
        store,
        clock,
        config,
        tokens,
        secrets.code_hasher,
        secrets.job_cipher,
    ));
    let outcome = services.bootstrap().await.context("bootstrap failed")?;
    if outcome.created {
        tracing::info!(
            org = %outcome.instance.default_org_id,
            admin = %outcome.instance.admin_user_id,
            "first start: created the default organization and the admin user"
        );
    }
    Ok(services)
}

/// Writes a token for the bootstrap admin to `<data_dir>/admin.token` (mode 0600) unless the file already
/// holds one that is still valid. Returns the path.
pub async fn ensure_admin_token(services: &Services) -> anyhow::Result<std::path::PathBuf> {
    let path = services.config.admin_token_path();
    if let Ok(existing) = std::fs::read_to_string(&path)
        && let Ok(claims) = services
            .tokens
            .verify(existing.trim(), services.clock.now())
    {
        // Kept, but never left readable by others, whatever happened to the file meanwhile.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        // A signature that still verifies is no use if its user can no longer sign in: say so, not "usable".
        let holder = services.load_user(&claims.user_id).await.ok();
        if !holder.as_ref().is_some_and(|u| u.can_authenticate()) {
            tracing::warn!(
                path = %path.display(),
                "the admin token file belongs to a user that is inactive or deleted and no longer works; \
                 run `phoneverify admin reset` to reactivate the instance owner and write a new one"
            );
        }
        return Ok(path);
    }
    let instance = services
        .store
        .instance()
        .await?
        .context("the database has no bootstrap admin")?;
    write_admin_token(services, &instance.admin_user_id)
}

/// Writes a fresh admin token for `user_id` to `data_dir/admin.token` (mode 0600).
pub fn write_admin_token(
    services: &Services,
    user_id: &domain::ids::UserId,
) -> anyhow::Result<std::path::PathBuf> {
    let path = services.config.admin_token_path();
    let token = services.mint_token(
        user_id,
        Duration::from_std(services.config.auth.admin_token_ttl).unwrap_or(Duration::MAX),
    )?;
    write_secret_file(&path, &token)?;
    Ok(path)
}

fn write_secret_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    Ok(())
}

/// A running server: listener, router and delivery worker.
pub struct Application {
    listener: TcpListener,
    services: Arc<Services>,
    provider: Option<Arc<dyn SmsProvider>>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let provider = notify::provider_from_config(&config.sms).map_err(anyhow::Error::msg)?;
        Self::build_with(config, Arc::new(SystemClock), provider).await
    }

    /// As `build`, with the clock and SMS provider chosen by the caller (tests).
    pub async fn build_with(
        config: Config,
        clock: Arc<dyn Clock>,
        provider: Option<Arc<dyn SmsProvider>>,
    ) -> anyhow::Result<Self> {
        let listen = config.listen;
        // Bound first: a taken port must stop start-up before a database or an admin is created.
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let services = build_services(config, clock).await?;
        let token_path = ensure_admin_token(&services).await?;
        tracing::info!(path = %token_path.display(), "admin token file (use it as: Authorization: Bearer $(cat {}))", token_path.display());
        Ok(Self {
            listener,
            services,
            provider,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    pub fn services(&self) -> Arc<Services> {
        self.services.clone()
    }

    /// Serves until `shutdown` completes; then stops accepting, finishes requests in flight and the SMS job in
    /// hand, and closes the database.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        // Without a provider the worker still runs: jobs queued before the switch are given up (with their
        // event) when their code expires, instead of staying pending forever.
        let provider = self
            .provider
            .clone()
            .unwrap_or_else(|| Arc::new(notify::NoProvider));
        let worker =
            tokio::spawn(Worker::new(self.services.clone(), provider).run(stop_rx.clone()));
        let retention = tokio::spawn(Retention::new(self.services.clone()).run(stop_rx));
        tracing::info!(addr = %self.local_addr()?, database = self.services.store.backend(), "listening; API docs at /docs/");
        let now = self.services.clock.now();
        let test_numbers = self.services.config.limits.policy.active_test_numbers(now);
        if test_numbers > 0 {
            tracing::warn!(
                active = test_numbers,
                "limits.test_numbers: their fixed codes verify without an SMS until they expire; remove them when \
                 the review or test is over"
            );
        }
        let app = build_app(self.services.clone());
        let limits = server::ConnectionLimits {
            header_read_timeout: self.services.config.http.header_read_timeout,
            max_connections: self.services.config.http.max_connections,
        };
        server::serve(self.listener, app, limits, shutdown).await;
        let _ = stop_tx.send(true);
        let _ = worker.await;
        let _ = retention.await;
        self.services.store.close().await;
        Ok(())
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}

//! The app under test: the real router and services over a real database, a pinned clock, a recording SMS
//! provider and its delivery worker; and what tests read back from the store and the provider.

use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::http::Method;
use chrono::{DateTime, TimeZone, Utc};
use phoneverify::config::Config;
use phoneverify::domain::clock::{Clock, ManualClock};
use phoneverify::domain::events::StoredEvent;
use phoneverify::notify::{RecordingProvider, SmsProvider, Worker};
use phoneverify::service::Services;
use phoneverify::store::JobCounts;

use super::backend::Backend;
use super::request::Req;
use super::rpc::{Protocol, Rpc};

const NO_SEND_LIMITS: &str =
    "[limits]\nresend_cooldown_secs = 0\nmax_sends_per_phone_per_day = 0\n";

pub struct TestApp {
    pub services: Arc<Services>,
    router: Router,
    pub clock: Arc<ManualClock>,
    pub sms: Arc<RecordingProvider>,
    worker: Worker,
    pub admin_token: String,
    pub admin_id: String,
    pub org_id: String,
    pub backend: Backend,
    pub dir: Arc<tempfile::TempDir>,
    extra_toml: String,
}

impl TestApp {
    pub async fn spawn(backend: &Backend) -> Result<Self> {
        Self::spawn_with(backend, "").await
    }

    /// `toml` holds sections only (`[code]` ...); top-level keys are set here.
    pub async fn spawn_with(backend: &Backend, toml: &str) -> Result<Self> {
        let dir = Arc::new(tempfile::tempdir()?);
        let start = Utc
            .with_ymd_and_hms(2026, 6, 1, 9, 0, 0)
            .single()
            .context("start time")?;
        Self::build(
            backend,
            dir,
            Arc::new(ManualClock::new(start)),
            toml.to_owned(),
        )
        .await
    }

    async fn build(
        backend: &Backend,
        dir: Arc<tempfile::TempDir>,
        clock: Arc<ManualClock>,
        toml: String,
    ) -> Result<Self> {
        // Send limits are off unless a test turns them on: most tests send several codes in a row.
        let data_dir = format!("data_dir = {:?}", dir.path());
        let mut config = Config::from_toml_layers(&[&data_dir, NO_SEND_LIMITS, &toml])?;
        if let Some(url) = backend.url() {
            config.set_database_url(url);
        }
        let services = phoneverify::build_services(config, clock.clone()).await?;
        let token_path = phoneverify::ensure_admin_token(&services).await?;
        let admin_token = std::fs::read_to_string(token_path)?.trim().to_owned();
        let instance = services.store.instance().await?.context("bootstrapped")?;
        let sms = RecordingProvider::new();
        Ok(Self {
            router: phoneverify::build_app(services.clone()),
            worker: Worker::new(services.clone(), sms.clone()),
            services,
            clock,
            sms,
            admin_token,
            admin_id: instance.admin_user_id.to_string(),
            org_id: instance.default_org_id.to_string(),
            backend: backend.clone(),
            dir,
            extra_toml: toml,
        })
    }

    /// A new process over the same database and data directory, configured with `toml` instead (the clock
    /// carries on): an operator changing a setting.
    pub async fn restart_with(self, toml: &str) -> Result<Self> {
        self.services.store.close().await;
        Self::build(
            &self.backend,
            self.dir.clone(),
            self.clock.clone(),
            toml.to_owned(),
        )
        .await
    }

    /// A new process over the same database and data directory (the clock carries on).
    pub async fn restart(self) -> Result<Self> {
        self.services.store.close().await;
        Self::build(
            &self.backend,
            self.dir.clone(),
            self.clock.clone(),
            self.extra_toml.clone(),
        )
        .await
    }

    pub fn get(&self, path: &str) -> Req<'_> {
        self.request(Method::GET, path)
    }
    pub fn post(&self, path: &str) -> Req<'_> {
        self.request(Method::POST, path)
    }
    pub fn put(&self, path: &str) -> Req<'_> {
        self.request(Method::PUT, path)
    }
    pub fn delete(&self, path: &str) -> Req<'_> {
        self.request(Method::DELETE, path)
    }

    /// An RPC client as the admin, speaking `protocol`.
    pub fn rpc(&self, protocol: Protocol) -> Rpc<'_> {
        Rpc::new(&self.router, protocol, &self.admin_token)
    }

    fn request(&self, method: Method, path: &str) -> Req<'_> {
        Req::new(&self.router, &self.admin_token, method, path)
    }

    pub fn token_for(&self, user_id: &str) -> String {
        self.services
            .mint_token(
                &phoneverify::domain::ids::UserId::from_stored(user_id.to_owned()),
                chrono::Duration::hours(1),
            )
            .unwrap_or_else(|e| panic!("token for {user_id}: {e}"))
    }

    /// The app's (pinned) time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Runs the delivery worker until nothing is due; returns how many jobs it handled.
    pub async fn deliver(&self) -> Result<usize> {
        deliver_all(&self.worker).await
    }

    /// Codes the recording provider delivered to `phone`, oldest first.
    pub fn codes_sent_to(&self, phone: &str) -> Vec<String> {
        self.sms
            .sent()
            .into_iter()
            .filter(|m| m.to == phone)
            .map(|m| m.code.expose().to_owned())
            .collect()
    }

    /// A delivery worker of this app's services that sends through `provider`.
    pub fn worker_with(&self, provider: Arc<dyn SmsProvider>) -> Worker {
        Worker::new(self.services.clone(), provider)
    }

    /// The SMS jobs in the outbox, by state.
    pub async fn job_counts(&self) -> Result<JobCounts> {
        Ok(self.services.store.job_counts().await?)
    }

    /// The first column of what `sql` returns with `args` bound to `$1`, `$2`, ..., read from the database
    /// directly, past the Store trait (for what no API shows).
    pub async fn raw_column(&self, sql: &str, args: &[&str]) -> Result<Vec<String>> {
        use sqlx::Connection;
        Ok(match self.backend.url() {
            Some(url) => {
                let mut c = sqlx::PgConnection::connect(&url).await?;
                let query = args
                    .iter()
                    .fold(sqlx::query_scalar(sql), |q, arg| q.bind(*arg));
                query.fetch_all(&mut c).await?
            }
            None => {
                let url = format!("sqlite://{}/phoneverify.db", self.dir.path().display());
                let mut c = sqlx::SqliteConnection::connect(&url).await?;
                let query = args
                    .iter()
                    .fold(sqlx::query_scalar(sql), |q, arg| q.bind(*arg));
                query.fetch_all(&mut c).await?
            }
        })
    }

    /// The aggregate's events, oldest first.
    pub async fn events(&self, aggregate_id: &str) -> Result<Vec<StoredEvent>> {
        Ok(self.services.store.events(aggregate_id).await?)
    }

    pub async fn event_types(&self, aggregate_id: &str) -> Result<Vec<String>> {
        Ok(self
            .events(aggregate_id)
            .await?
            .into_iter()
            .map(|e| e.event_type)
            .collect())
    }

    /// How many events of `event_type` the aggregate has.
    pub async fn count_events(&self, aggregate_id: &str, event_type: &str) -> Result<usize> {
        Ok(self
            .event_types(aggregate_id)
            .await?
            .iter()
            .filter(|e| *e == event_type)
            .count())
    }

    /// The type of the aggregate's latest event.
    pub async fn last_event(&self, aggregate_id: &str) -> Result<Option<String>> {
        Ok(self.event_types(aggregate_id).await?.pop())
    }
}

/// Runs `worker` until nothing is due; returns how many jobs it handled.
pub async fn deliver_all(worker: &Worker) -> Result<usize> {
    let mut total = 0;
    loop {
        match worker.run_once().await? {
            0 => return Ok(total),
            n => total += n,
        }
    }
}

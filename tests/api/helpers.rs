//! A test app over the real router and a real database, with a pinned clock and a recording SMS provider,
//! and typed helpers so that tests read as behaviour.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request};
use chrono::{TimeZone, Utc};
use http_body_util::BodyExt;
use phoneverify::config::Config;
use phoneverify::domain::clock::ManualClock;
use phoneverify::domain::ids::UserId;
use phoneverify::notify::{RecordingProvider, Worker};
use phoneverify::service::Services;
use serde_json::{Value, json};
use sqlx::Connection;
use tower::ServiceExt;

pub const PHONE_A: &str = "+41791234567";
pub const PHONE_B: &str = "+41781112233";

const NO_SEND_LIMITS: &str =
    "[limits]\nresend_cooldown_secs = 0\nmax_sends_per_phone_per_day = 0\n";

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// A database created for this test: (server URL, database name).
    Postgres {
        server: String,
        database: String,
    },
}

impl Backend {
    pub async fn fresh_postgres(server: &str) -> Result<Self> {
        let database = format!("pv_test_{:016x}", rand::random::<u64>());
        let mut conn = sqlx::PgConnection::connect(server)
            .await
            .context("cannot reach the test Postgres")?;
        sqlx::query(&format!("CREATE DATABASE {database}"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(Backend::Postgres {
            server: server.to_owned(),
            database,
        })
    }

    pub fn url(&self) -> Option<String> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres { server, database } => Some(with_database(server, database)),
        }
    }

    pub async fn cleanup(&self) {
        if let Backend::Postgres { server, database } = self
            && let Ok(mut conn) = sqlx::PgConnection::connect(server).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    }
}

/// The server URL with its database name replaced.
fn with_database(server: &str, database: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{database}?{q}"),
        None => format!("{host_part}/{database}"),
    }
}

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
        Req::new(self, Method::GET, path)
    }
    pub fn post(&self, path: &str) -> Req<'_> {
        Req::new(self, Method::POST, path)
    }
    pub fn put(&self, path: &str) -> Req<'_> {
        Req::new(self, Method::PUT, path)
    }
    pub fn delete(&self, path: &str) -> Req<'_> {
        Req::new(self, Method::DELETE, path)
    }

    pub fn token_for(&self, user_id: &str) -> String {
        self.services
            .mint_token(
                &UserId::from_stored(user_id.to_owned()),
                chrono::Duration::hours(1),
            )
            .unwrap_or_else(|e| panic!("token for {user_id}: {e}"))
    }

    /// A human in the default org, created by the admin; returns its id.
    pub async fn human(&self, username: &str) -> Result<String> {
        let r = self
            .post("/v2/users/human")
            .json(json!({
                "username": username,
                "profile": {"givenName": "Given", "familyName": "Family"},
                "email": {"email": format!("{username}@example.com")}
            }))
            .send()
            .await;
        Ok(r.ok()?["userId"].as_str().context("userId")?.to_owned())
    }

    pub async fn human_in(&self, org_id: &str, username: &str) -> Result<String> {
        let r = self
            .post("/v2/users/human")
            .json(json!({
                "username": username,
                "organization": {"orgId": org_id},
                "profile": {"givenName": "Given", "familyName": "Family"},
                "email": {"email": format!("{username}@example.com")}
            }))
            .send()
            .await;
        Ok(r.ok()?["userId"].as_str().context("userId")?.to_owned())
    }

    pub async fn machine(&self, username: &str) -> Result<String> {
        let r = self
            .post("/management/v1/users/machine")
            .json(json!({"userName": username, "name": "Bot"}))
            .send()
            .await;
        Ok(r.ok()?["userId"].as_str().context("userId")?.to_owned())
    }

    pub async fn org(&self, name: &str) -> Result<String> {
        let r = self
            .post("/v2/organizations")
            .json(json!({"name": name}))
            .send()
            .await;
        Ok(r.ok()?["organizationId"]
            .as_str()
            .context("organizationId")?
            .to_owned())
    }

    pub async fn grant_org_role(&self, org_id: &str, user_id: &str, role: &str) -> Result<()> {
        self.post("/management/v1/orgs/me/members")
            .org(org_id)
            .json(json!({"userId": user_id, "roles": [role]}))
            .send()
            .await
            .ok()?;
        Ok(())
    }

    /// A human whose phone is set and unverified; returns (id, current code).
    pub async fn with_pending_code(&self, username: &str, phone: &str) -> Result<(String, String)> {
        let id = self.human(username).await?;
        let r = self
            .post(&format!("/v2/users/{id}/phone"))
            .json(json!({"phone": phone, "returnCode": {}}))
            .send()
            .await;
        let code = r.ok()?["verificationCode"]
            .as_str()
            .context("verificationCode")?
            .to_owned();
        Ok((id, code))
    }

    /// A new code for `user_id`, returned in the response (as the admin, so no SMS and no throttle).
    pub async fn returned_code(&self, user_id: &str) -> Result<String> {
        let r = self
            .post(&format!("/v2/users/{user_id}/phone/resend"))
            .json(json!({"returnCode": {}}))
            .send()
            .await;
        Ok(r.ok()?["verificationCode"]
            .as_str()
            .context("verificationCode")?
            .to_owned())
    }

    /// Runs the delivery worker until nothing is due; returns how many jobs it handled.
    pub async fn deliver(&self) -> Result<usize> {
        let mut total = 0;
        loop {
            let n = self.worker.run_once().await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
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

    pub async fn event_types(&self, aggregate_id: &str) -> Result<Vec<String>> {
        Ok(self
            .services
            .store
            .events(aggregate_id)
            .await?
            .into_iter()
            .map(|e| e.event_type)
            .collect())
    }
}

pub struct Req<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    token: Option<String>,
    body: Option<String>,
    headers: Vec<(String, String)>,
}

impl<'a> Req<'a> {
    fn new(app: &'a TestApp, method: Method, path: &str) -> Self {
        Self {
            app,
            method,
            path: path.to_owned(),
            token: Some(app.admin_token.clone()),
            body: None,
            headers: vec![],
        }
    }

    pub fn by(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    pub fn anonymous(mut self) -> Self {
        self.token = None;
        self
    }

    pub fn json(mut self, v: Value) -> Self {
        self.body = Some(v.to_string());
        self
    }

    pub fn raw(mut self, s: &str) -> Self {
        self.body = Some(s.to_owned());
        self
    }

    pub fn org(self, org_id: &str) -> Self {
        self.header("x-zitadel-orgid", org_id)
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }

    pub async fn send(self) -> Resp {
        let mut builder = Request::builder().method(self.method).uri(&self.path);
        if let Some(t) = &self.token {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        if self.body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        let request = builder
            .body(Body::from(self.body.unwrap_or_default()))
            .unwrap_or_else(|e| panic!("request: {e}"));
        let response = self
            .app
            .router
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|e| panic!("router: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            body,
            headers,
            text,
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: HeaderMap,
    pub text: String,
}

impl Resp {
    /// The body of a 200, or an error that shows what came instead.
    pub fn ok(&self) -> Result<&Value> {
        if self.status != 200 {
            bail!("expected 200, got {}: {}", self.status, self.text);
        }
        Ok(&self.body)
    }

    /// Asserts an error answer: HTTP status, gRPC code and error ID (in `message` and `details[0].id`).
    pub fn err(&self, http: u16, code: i64, id: &str) -> Result<()> {
        let detail_id = self.body["details"][0]["id"].as_str().unwrap_or_default();
        let message = self.body["message"].as_str().unwrap_or_default();
        if self.status != http
            || self.body["code"] != code
            || detail_id != id
            || !message.ends_with(&format!("({id})"))
        {
            bail!(
                "expected {http}/{code}/{id}, got {}: {}",
                self.status,
                self.text
            );
        }
        Ok(())
    }

    /// Asserts a request-shape error: 400, code 3, a message containing `needle`.
    pub fn invalid(&self, needle: &str) -> Result<()> {
        let message = self.body["message"].as_str().unwrap_or_default();
        if self.status != 400 || self.body["code"] != 3 || !message.contains(needle) {
            bail!(
                "expected 400/3 mentioning {needle:?}, got {}: {}",
                self.status,
                self.text
            );
        }
        Ok(())
    }

    pub fn sequence(&self) -> Result<i64> {
        self.body["details"]["sequence"]
            .as_str()
            .context("details.sequence is a string")?
            .parse()
            .context("number")
    }
}

/// `ensure!` with the values shown.
#[macro_export]
macro_rules! check_eq {
    ($left:expr, $right:expr $(,)?) => {
        // `match` keeps temporaries in the expressions alive for the comparison.
        match (&$left, &$right) {
            (l, r) => anyhow::ensure!(
                l == r,
                "{} == {} failed: {:?} != {:?}",
                stringify!($left),
                stringify!($right),
                l,
                r
            ),
        }
    };
}

//! The webhook and Twilio providers against a local gateway (an axum server on 127.0.0.1:0 that records what
//! it gets and answers as scripted), driven by the real outbox worker: payload, signature and request format,
//! retries, timeouts, giving up, restarts, and the delivery state that the API and /metrics show.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use anyhow::{Context, Result, bail, ensure};
use aws_lc_rs::hmac;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use phoneverify::domain::clock::Clock;
use phoneverify::domain::code::PlainCode;
use phoneverify::notify::{
    SIGNATURE_HEADER, SendError, SmsMessage, SmsProvider, TwilioProvider, WebhookProvider, Worker,
};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, PHONE_B, TestApp};

pub fn tests() -> Vec<(&'static str, crate::TestFn)> {
    crate::suite!(providers;
        webhook_body_is_zitadel_shaped_and_signed,
        unsigned_webhook_carries_no_signature,
        gateway_errors_are_retried_and_delivered_once,
        hanging_gateway_times_out_and_is_retried,
        gateway_down_longer_than_the_code_lives_gives_up,
        pending_jobs_are_delivered_after_a_restart,
        replaced_and_expired_codes_never_reach_the_gateway,
        background_worker_delivers_each_send_exactly_once,
        api_requests_do_not_wait_for_a_hanging_gateway,
        twilio_request_format,
        twilio_messaging_service_and_errors,
        code_delivery_state_shows_on_the_v2_user,
        metrics_count_jobs_by_state,
    )
}

const SIGNING_KEY: &str = "whsec-test-signing-key";
const TWILIO_SID: &str = "AC0123456789abcdef";
const TWILIO_TOKEN: &str = "tw-secret-auth-token";

// ---- the local gateway ----

#[derive(Debug, Clone)]
enum Reply {
    Status(u16, &'static str),
    /// Holds the request far longer than any provider timeout.
    Hang,
}

#[derive(Debug, Clone)]
struct Received {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The fields of a form-encoded body.
    fn form(&self) -> BTreeMap<String, String> {
        let text = String::from_utf8_lossy(&self.body);
        reqwest::Url::parse(&format!("http://x/?{text}"))
            .map(|u| u.query_pairs().into_owned().collect())
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct GatewayState {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Option<Reply>>,
}

struct Gateway {
    addr: std::net::SocketAddr,
    state: Arc<GatewayState>,
    server: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Answers `default` to every request not scripted with `then`.
    async fn start(default: Reply) -> Result<Self> {
        let state = Arc::new(GatewayState::default());
        *state.default.lock().unwrap() = Some(default);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .fallback(gateway_handler)
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            state,
            server,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next requests get these answers, in order.
    fn then(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    fn set_default(&self, reply: Reply) {
        *self.state.default.lock().unwrap() = Some(reply);
    }

    fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits (in real time) until the gateway has seen `n` requests.
    async fn wait_for(&self, n: usize, within: StdDuration) -> Result<()> {
        let deadline = Instant::now() + within;
        while self.received().len() < n {
            if Instant::now() > deadline {
                bail!(
                    "gateway saw {} requests, expected {n}",
                    self.received().len()
                );
            }
            tokio::time::sleep(StdDuration::from_millis(20)).await;
        }
        Ok(())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn gateway_handler(
    State(state): State<Arc<GatewayState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.received.lock().unwrap().push(Received {
        method,
        path: uri.path().to_owned(),
        headers,
        body,
    });
    let scripted = state.script.lock().unwrap().pop_front();
    let reply = scripted.unwrap_or_else(|| {
        state
            .default
            .lock()
            .unwrap()
            .clone()
            .unwrap_or(Reply::Status(200, "{}"))
    });
    match reply {
        Reply::Status(code, body) => (
            StatusCode::from_u16(code).unwrap(),
            [("content-type", "application/json")],
            body,
        )
            .into_response(),
        Reply::Hang => {
            tokio::time::sleep(StdDuration::from_secs(60)).await;
            StatusCode::OK.into_response()
        }
    }
}

// ---- app, providers and worker ----

/// Settings for the webhook provider at `gateway`: 5 attempts, a 1 s timeout.
fn webhook_toml(gateway: &Gateway, signing_key: &str) -> String {
    tuned_webhook_toml(gateway, signing_key, 5, 1)
}

fn tuned_webhook_toml(
    gateway: &Gateway,
    signing_key: &str,
    max_attempts: u32,
    timeout_secs: u64,
) -> String {
    format!(
        "[sms]\nprovider = \"webhook\"\nmax_attempts = {max_attempts}\n[sms.webhook]\nurl = \"{}\"\nsigning_key = \"{signing_key}\"\ntimeout_secs = {timeout_secs}\nprovider_id = \"pv-test\"\ndescription = \"test gateway\"\n",
        gateway.url("/sms")
    )
}

fn twilio_toml(gateway: &Gateway, sender: &str) -> String {
    format!(
        "[sms]\nprovider = \"twilio\"\n[sms.twilio]\nbase_url = \"{}\"\naccount_sid = \"{TWILIO_SID}\"\nauth_token = \"{TWILIO_TOKEN}\"\n{sender}\ntimeout_secs = 2\n",
        gateway.url("")
    )
}

/// The webhook provider the configuration describes, on the app's pinned clock (so the signature's timestamp
/// is known).
fn webhook(app: &TestApp) -> Result<Arc<dyn SmsProvider>> {
    Ok(Arc::new(
        WebhookProvider::new(&app.services.config.sms.webhook, app.clock.clone())
            .map_err(anyhow::Error::msg)?,
    ))
}

fn twilio(app: &TestApp) -> Result<Arc<dyn SmsProvider>> {
    Ok(Arc::new(
        TwilioProvider::new(&app.services.config.sms.twilio).map_err(anyhow::Error::msg)?,
    ))
}

/// Runs the worker until nothing is due; returns how many jobs it handled.
async fn deliver(worker: &Worker) -> Result<usize> {
    let mut total = 0;
    loop {
        match worker.run_once().await? {
            0 => return Ok(total),
            n => total += n,
        }
    }
}

async fn human_speaking(app: &TestApp, username: &str, language: &str) -> Result<String> {
    let r = app
        .post("/v2/users/human")
        .json(json!({
            "username": username,
            "profile": {"givenName": "Given", "familyName": "Family", "preferredLanguage": language},
            "email": {"email": format!("{username}@example.com")}
        }))
        .send()
        .await;
    Ok(r.ok()?["userId"].as_str().context("userId")?.to_owned())
}

async fn send_code(app: &TestApp, id: &str, phone: &str) -> Result<()> {
    app.post(&format!("/v2/users/{id}/phone"))
        .json(json!({"phone": phone, "sendCode": {}}))
        .send()
        .await
        .ok()?;
    Ok(())
}

async fn resend(app: &TestApp, id: &str) -> Result<()> {
    app.post(&format!("/v2/users/{id}/phone/resend"))
        .json(json!({"sendCode": {}}))
        .send()
        .await
        .ok()?;
    Ok(())
}

async fn verify(app: &TestApp, id: &str, code: &str) -> Result<()> {
    app.post(&format!("/v2/users/{id}/phone/verify"))
        .json(json!({"verificationCode": code}))
        .send()
        .await
        .ok()?;
    Ok(())
}

async fn code_delivery(app: &TestApp, id: &str) -> Result<Value> {
    let r = app.get(&format!("/v2/users/{id}")).send().await;
    Ok(r.ok()?["user"]["human"]["phone"]["codeDelivery"].clone())
}

async fn count_events(app: &TestApp, id: &str, event_type: &str) -> Result<usize> {
    Ok(app
        .event_types(id)
        .await?
        .iter()
        .filter(|e| *e == event_type)
        .count())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a `ZITADEL-Signature` header the way a receiver would; returns its timestamp.
fn check_signature(header: &str, body: &[u8], key: &str) -> Result<i64> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v.to_owned()),
            Some(("v1", v)) => v1 = Some(v.to_owned()),
            _ => bail!("unexpected part {part:?} in {header:?}"),
        }
    }
    let (t, v1) = (t.context("t=")?, v1.context("v1=")?);
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    let expected =
        hex(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()), &signed).as_ref());
    ensure!(v1 == expected, "signature {v1} does not match {expected}");
    Ok(t.parse()?)
}

// ---- tests ----

async fn webhook_body_is_zitadel_shaped_and_signed(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(200, "{}")).await?;
    let app = TestApp::spawn_with(&b, &webhook_toml(&gateway, SIGNING_KEY)).await?;
    let worker = Worker::new(app.services.clone(), webhook(&app)?);
    let id = human_speaking(&app, "heidi", "de-CH").await?;
    send_code(&app, &id, PHONE_A).await?;
    check_eq!(deliver(&worker).await?, 1);

    let got = gateway.received();
    check_eq!(got.len(), 1);
    let r = &got[0];
    check_eq!(r.method, Method::POST);
    check_eq!(r.path.as_str(), "/sms");
    check_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    let body = r.json();
    let code = body["args"]["code"]
        .as_str()
        .context("args.code")?
        .to_owned();
    check_eq!(
        body,
        json!({
            "contextInfo": {
                "recipientPhoneNumber": PHONE_A,
                "eventType": "user.human.phone.code.added",
                "provider": {"id": "pv-test", "description": "test gateway"}
            },
            // The user prefers de-CH: the `de` template of the defaults, with the code and its lifetime.
            "templateData": {"text": format!("Ihr Bestätigungscode lautet {code}. Er ist 10 Minuten gültig.")},
            "args": {"code": code, "expiry": "10m0s", "userId": id, "preferredLanguage": "de-CH"}
        })
    );
    // Signed over the exact bytes sent, at the app's (pinned) time.
    let header = r.header(SIGNATURE_HEADER).context("signature header")?;
    let t = check_signature(&header, &r.body, SIGNING_KEY)?;
    check_eq!(t, app.clock.now().timestamp());
    ensure!(
        check_signature(&header, &r.body, "another-key").is_err(),
        "a receiver with another key rejects it"
    );
    let mut tampered = r.body.to_vec();
    tampered.extend_from_slice(b" ");
    ensure!(check_signature(&header, &tampered, SIGNING_KEY).is_err());

    // The code the gateway got is the one that verifies.
    verify(&app, &id, &code).await?;
    check_eq!(
        count_events(&app, &id, "user.human.phone.code.sent").await?,
        1
    );
    Ok(())
}

async fn unsigned_webhook_carries_no_signature(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(204, "")).await?;
    let app = TestApp::spawn_with(&b, &webhook_toml(&gateway, "")).await?;
    let worker = Worker::new(app.services.clone(), webhook(&app)?);
    let id = app.human("ada").await?;
    send_code(&app, &id, PHONE_A).await?;
    check_eq!(deliver(&worker).await?, 1);
    let got = gateway.received();
    check_eq!(got.len(), 1);
    check_eq!(got[0].header(SIGNATURE_HEADER), None);
    // No preferred language: the default template; 204 counts as delivered.
    let text = got[0].json()["templateData"]["text"]
        .as_str()
        .context("text")?
        .to_owned();
    ensure!(text.starts_with("Your verification code is "), "{text}");
    check_eq!(got[0].json()["args"]["preferredLanguage"], json!(""));
    check_eq!(app.services.store.job_counts().await?.sent, 1);
    Ok(())
}

async fn gateway_errors_are_retried_and_delivered_once(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(200, "{}")).await?;
    gateway.then([
        Reply::Status(500, r#"{"error":"boom"}"#),
        Reply::Status(500, r#"{"error":"boom"}"#),
    ]);
    let app = TestApp::spawn_with(&b, &webhook_toml(&gateway, SIGNING_KEY)).await?;
    let worker = Worker::new(app.services.clone(), webhook(&app)?);
    let id = app.human("ada").await?;
    send_code(&app, &id, PHONE_A).await?;

    check_eq!(deliver(&worker).await?, 1); // 500: rescheduled
    check_eq!(gateway.received().len(), 1);
    check_eq!(deliver(&worker).await?, 0); // backing off: nothing due
    check_eq!(gateway.received().len(), 1);
    check_eq!(
        code_delivery(&app, &id).await?,
        json!("CODE_DELIVERY_PENDING")
    );
    app.clock.advance(Duration::seconds(10));
    check_eq!(deliver(&worker).await?, 1); // 500 again
    check_eq!(gateway.received().len(), 2);
    app.clock.advance(Duration::seconds(20));
    check_eq!(deliver(&worker).await?, 1); // 200
    check_eq!(gateway.received().len(), 3);

    // Delivered once: nothing more goes out, however long we wait.
    app.clock.advance(Duration::hours(1));
    check_eq!(deliver(&worker).await?, 0);
    let got = gateway.received();
    check_eq!(got.len(), 3);
    let codes: Vec<Value> = got
        .iter()
        .map(|r| r.json()["args"]["code"].clone())
        .collect();
    check_eq!(codes[0], codes[2]);
    check_eq!(
        count_events(&app, &id, "user.human.phone.code.sent").await?,
        1
    );
    check_eq!(
        count_events(&app, &id, "user.human.phone.code.delivery.failed").await?,
        0
    );
    let counts = app.services.store.job_counts().await?;
    check_eq!((counts.pending, counts.sent, counts.failed), (0, 1, 0));
    check_eq!(code_delivery(&app, &id).await?, json!("CODE_DELIVERY_SENT"));
    Ok(())
}

async fn hanging_gateway_times_out_and_is_retried(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(200, "{}")).await?;
    gateway.then([Reply::Hang]);
    let app = TestApp::spawn_with(&b, &webhook_toml(&gateway, SIGNING_KEY)).await?;
    let worker = Worker::new(app.services.clone(), webhook(&app)?);
    let id = app.human("ada").await?;
    send_code(&app, &id, PHONE_A).await?;

    let started = Instant::now();
    check_eq!(deliver(&worker).await?, 1);
    let took = started.elapsed();
    // timeout_secs = 1: the worker is not stuck on the hanging request.
    ensure!(
        took >= StdDuration::from_millis(900) && took < StdDuration::from_secs(5),
        "the attempt took {took:?}"
    );
    check_eq!(gateway.received().len(), 1);
    let counts = app.services.store.job_counts().await?;
    check_eq!((counts.pending, counts.sent), (1, 0));
    check_eq!(
        count_events(&app, &id, "user.human.phone.code.sent").await?,
        0
    );

    app.clock.advance(Duration::seconds(10));
    check_eq!(deliver(&worker).await?, 1);
    check_eq!(gateway.received().len(), 2);
    check_eq!(
        count_events(&app, &id, "user.human.phone.code.sent").await?,
        1
    );
    check_eq!(app.services.store.job_counts().await?.sent, 1);
    Ok(())
}

async fn gateway_down_longer_than_the_code_lives_gives_up(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(503, "{}")).await?;
    // Attempts would last longer than the code: it is its expiry that ends them.
    let toml = tuned_webhook_toml(&gateway, SIGNING_KEY, 100, 1);
    let app = TestApp::spawn_with(&b, &toml).await?;
    let worker = Worker::new(app.services.clone(), webhook(&app)?);
    let id = app.human("ada").await?;
    send_code(&app, &id, PHONE_A).await?;

    let mut minutes = 0;
    while count_events(&app, &id, "user.human.phone.code.delivery.failed").await? == 0 {
        ensure!(minutes < 30, "never given up");
        deliver(&worker).await?;
        app.clock.advance(Duration::minutes(1));
        minutes += 1;
    }
    // Given up at the first round after the code (10 minutes) expired: not before, and not minutes later
    // because the backoff had grown past its expiry.
    check_eq!(minutes, 12);
    let tried = gateway.received().len();
    ensure!(
        tried >= 5,
        "retried while the code lived ({tried} attempts)"
    );
    check_eq!(
        app.event_types(&id).await?.last().map(String::as_str),
        Some("user.human.phone.code.delivery.failed")
    );
    check_eq!(
        count_events(&app, &id, "user.human.phone.code.sent").await?,
        0
    );
    let counts = app.services.store.job_counts().await?;
    check_eq!((counts.pending, counts.failed, counts.sent), (0, 1, 0));
    check_eq!(
        code_delivery(&app, &id).await?,
        json!("CODE_DELIVERY_FAILED")
    );

    // The gateway comes back: the dead code is not sent, and the job stays closed.
    gateway.set_default(Reply::Status(200, "{}"));
    app.clock.advance(Duration::hours(1));
    check_eq!(deliver(&worker).await?, 0);
    check_eq!(gateway.received().len(), tried);
    Ok(())
}

async fn pending_jobs_are_delivered_after_a_restart(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(500, "{}")).await?;
    let app = TestApp::spawn_with(&b, &webhook_toml(&gateway, SIGNING_KEY)).await?;
    let id = app.human("ada").await?;
    send_code(&app, &id, PHONE_A).await?;
    send_code(&app, &app.human("bob").await?, PHONE_B).await?;
    // One failed attempt, then the process goes away with both jobs pending.
    {
        let worker = Worker::new(app.services.clone(), webhook(&app)?);
        check_eq!(deliver(&worker).await?, 2);
    }
    check_eq!(app.services.store.job_counts().await?.pending, 2);
    let app = app.restart().await?;

    gateway.set_default(Reply::Status(200, "{}"));
    app.clock.advance(Duration::seconds(10));
    let worker = Worker::new(app.services.clone(), webhook(&app)?);
    check_eq!(deliver(&worker).await?, 2);
    let got = gateway.received();
    check_eq!(got.len(), 4);
    let mut phones: Vec<String> = got[2..]
        .iter()
        .map(|r| {
            r.json()["contextInfo"]["recipientPhoneNumber"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    phones.sort();
    check_eq!(phones, vec![PHONE_B.to_owned(), PHONE_A.to_owned()]);
    // The new process decrypted the code the old one sealed: it verifies.
    let code = got[2..]
        .iter()
        .map(|r| r.json())
        .find(|j| j["args"]["userId"] == json!(id))
        .context("ada's SMS")?["args"]["code"]
        .as_str()
        .context("code")?
        .to_owned();
    verify(&app, &id, &code).await?;
    check_eq!(app.services.store.job_counts().await?.sent, 2);
    Ok(())
}

async fn replaced_and_expired_codes_never_reach_the_gateway(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(200, "{}")).await?;
    let app = TestApp::spawn_with(&b, &webhook_toml(&gateway, SIGNING_KEY)).await?;
    let worker = Worker::new(app.services.clone(), webhook(&app)?);
    let id = app.human("ada").await?;
    send_code(&app, &id, PHONE_A).await?;
    app.clock.advance(Duration::seconds(31));
    resend(&app, &id).await?;
    app.clock.advance(Duration::seconds(31));
    resend(&app, &id).await?;
    check_eq!(deliver(&worker).await?, 3);
    // Only the last code went out, and it is the one that verifies.
    let got = gateway.received();
    check_eq!(got.len(), 1);
    let code = got[0].json()["args"]["code"]
        .as_str()
        .context("code")?
        .to_owned();
    verify(&app, &id, &code).await?;
    check_eq!(app.services.store.job_counts().await?.dropped, 2);

    // A code that expired before the worker came round is given up, not sent.
    let bob = app.human("bob").await?;
    send_code(&app, &bob, PHONE_B).await?;
    app.clock.advance(Duration::minutes(11));
    check_eq!(deliver(&worker).await?, 1);
    check_eq!(gateway.received().len(), 1);
    check_eq!(
        count_events(&app, &bob, "user.human.phone.code.delivery.failed").await?,
        1
    );
    // A removed number is not sent to either.
    let carol = app.human("carol").await?;
    send_code(&app, &carol, PHONE_A).await?;
    app.delete(&format!("/v2/users/{carol}/phone"))
        .send()
        .await
        .ok()?;
    check_eq!(deliver(&worker).await?, 1);
    check_eq!(gateway.received().len(), 1);
    Ok(())
}

/// Starts the real run loop (woken by commits) in the background; returns its stop switch and handle.
fn run_in_background(
    app: &TestApp,
    provider: Arc<dyn SmsProvider>,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    let worker = Worker::new(app.services.clone(), provider);
    (stop, tokio::spawn(worker.run(stopped)))
}

async fn background_worker_delivers_each_send_exactly_once(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(200, "{}")).await?;
    let app = TestApp::spawn_with(&b, &webhook_toml(&gateway, SIGNING_KEY)).await?;
    let (stop, handle) = run_in_background(&app, webhook(&app)?);
    let mut phones = Vec::new();
    for i in 0..5 {
        let id = app.human(&format!("user{i}")).await?;
        let phone = format!("+4179111220{i}");
        send_code(&app, &id, &phone).await?;
        phones.push(phone);
    }
    gateway.wait_for(5, StdDuration::from_secs(10)).await?;
    // Let a duplicate show up if there were one.
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    let mut got: Vec<String> = gateway
        .received()
        .iter()
        .map(|r| {
            r.json()["contextInfo"]["recipientPhoneNumber"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    got.sort();
    check_eq!(got, phones);
    let _ = stop.send(true);
    tokio::time::timeout(StdDuration::from_secs(5), handle).await??;
    let counts = app.services.store.job_counts().await?;
    check_eq!((counts.pending, counts.sent), (0, 5));
    Ok(())
}

async fn api_requests_do_not_wait_for_a_hanging_gateway(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Hang).await?;
    // A request that waited for the provider would take its timeout (5 s) at least.
    let toml = tuned_webhook_toml(&gateway, SIGNING_KEY, 5, 5);
    let app = TestApp::spawn_with(&b, &toml).await?;
    let (stop, handle) = run_in_background(&app, webhook(&app)?);
    let ada = app.human("ada").await?;
    let bob = app.human("bob").await?;

    let started = Instant::now();
    send_code(&app, &ada, PHONE_A).await?;
    let took = started.elapsed();
    ensure!(
        took < StdDuration::from_secs(3),
        "the request took {took:?}"
    );
    // The worker has the SMS in hand, and the gateway holds it ...
    gateway.wait_for(1, StdDuration::from_secs(10)).await?;
    // ... while the API goes on answering, and queues more.
    let started = Instant::now();
    send_code(&app, &bob, PHONE_B).await?;
    check_eq!(
        code_delivery(&app, &ada).await?,
        json!("CODE_DELIVERY_PENDING")
    );
    let took = started.elapsed();
    ensure!(
        took < StdDuration::from_secs(3),
        "the requests took {took:?}"
    );

    // Stopping finishes the call in hand (cut off by its timeout) instead of hanging with it.
    let _ = stop.send(true);
    tokio::time::timeout(StdDuration::from_secs(15), handle).await??;
    let counts = app.services.store.job_counts().await?;
    check_eq!((counts.pending, counts.sent), (2, 0));
    Ok(())
}

async fn twilio_request_format(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(
        201,
        r#"{"sid": "SM0123456789abcdef", "status": "queued"}"#,
    ))
    .await?;
    let app = TestApp::spawn_with(&b, &twilio_toml(&gateway, "from = \"+15005550006\"")).await?;
    let worker = Worker::new(app.services.clone(), twilio(&app)?);
    let id = human_speaking(&app, "francoise", "fr").await?;
    send_code(&app, &id, PHONE_A).await?;
    check_eq!(deliver(&worker).await?, 1);

    let got = gateway.received();
    check_eq!(got.len(), 1);
    let r = &got[0];
    check_eq!(r.method, Method::POST);
    check_eq!(
        r.path,
        format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages.json")
    );
    check_eq!(
        r.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let auth = r.header("authorization").context("authorization")?;
    let credentials = STANDARD.decode(auth.strip_prefix("Basic ").context("basic auth")?)?;
    check_eq!(
        String::from_utf8(credentials)?,
        format!("{TWILIO_SID}:{TWILIO_TOKEN}")
    );
    let form = r.form();
    check_eq!(
        form.keys().map(String::as_str).collect::<Vec<_>>(),
        vec!["Body", "From", "To"]
    );
    check_eq!(form["To"].as_str(), PHONE_A);
    check_eq!(form["From"].as_str(), "+15005550006");
    let body = &form["Body"];
    ensure!(
        body.starts_with("Votre code de vérification est "),
        "{body}"
    );
    let code = body
        .trim_start_matches("Votre code de vérification est ")
        .split('.')
        .next()
        .unwrap_or_default()
        .to_owned();
    verify(&app, &id, &code).await?;
    check_eq!(
        count_events(&app, &id, "user.human.phone.code.sent").await?,
        1
    );
    Ok(())
}

async fn twilio_messaging_service_and_errors(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(201, "{}")).await?;
    gateway.then([Reply::Status(
        400,
        r#"{"code": 21211, "message": "The 'To' number is not a valid phone number (body: Your code is 482913).", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#,
    )]);
    let toml = twilio_toml(
        &gateway,
        "from = \"+15005550006\"\nmessaging_service_sid = \"MG0123\"",
    );
    let app = TestApp::spawn_with(&b, &toml).await?;
    let provider = twilio(&app)?;
    let message = SmsMessage {
        to: PHONE_A.to_owned(),
        text: "Your code is 482913".to_owned(),
        code: PlainCode::new("482913".to_owned()),
        user_id: "1".to_owned(),
        language: String::new(),
        expiry: Duration::minutes(10),
        event_type: "user.human.phone.code.added",
    };
    // Twilio's error code and message are kept; the auth token and the code are not.
    let error = match provider.send(&message).await {
        Err(SendError::Failed(e)) => e,
        other => bail!("expected a failure, got {other:?}"),
    };
    ensure!(
        error.contains("400")
            && error.contains("21211")
            && error.contains("not a valid phone number"),
        "{error}"
    );
    ensure!(
        !error.contains(TWILIO_TOKEN) && !error.contains("482913"),
        "{error}"
    );
    // A messaging service replaces From.
    provider.send(&message).await?;
    let got = gateway.received();
    check_eq!(got.len(), 2);
    let form = got[1].form();
    check_eq!(
        form.get("MessagingServiceSid").map(String::as_str),
        Some("MG0123")
    );
    check_eq!(form.get("From"), None);
    check_eq!(form["Body"].as_str(), "Your code is 482913");
    Ok(())
}

async fn code_delivery_state_shows_on_the_v2_user(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    check_eq!(code_delivery(&app, &id).await?, Value::Null);
    app.post(&format!("/v2/users/{id}/phone"))
        .json(json!({"phone": PHONE_A, "returnCode": {}}))
        .send()
        .await
        .ok()?;
    check_eq!(
        code_delivery(&app, &id).await?,
        json!("CODE_DELIVERY_RETURNED")
    );
    app.clock.advance(Duration::seconds(31));
    resend(&app, &id).await?;
    check_eq!(
        code_delivery(&app, &id).await?,
        json!("CODE_DELIVERY_PENDING")
    );
    check_eq!(app.deliver().await?, 1);
    check_eq!(code_delivery(&app, &id).await?, json!("CODE_DELIVERY_SENT"));
    let code = app.codes_sent_to(PHONE_A).pop().context("sent")?;
    verify(&app, &id, &code).await?;
    // Verified: no code pending, no delivery state; the ZITADEL fields are as before.
    let r = app.get(&format!("/v2/users/{id}")).send().await;
    check_eq!(
        r.ok()?["user"]["human"]["phone"],
        json!({"phone": PHONE_A, "isVerified": true})
    );
    Ok(())
}

/// `phoneverify_sms_jobs{state="..."} N` lines of a scrape.
fn job_gauges(text: &str) -> BTreeMap<String, i64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("phoneverify_sms_jobs{state=\""))
        .filter_map(|l| l.split_once("\"} "))
        .map(|(state, n)| (state.to_owned(), n.trim().parse().unwrap_or(-1)))
        .collect()
}

async fn metrics_count_jobs_by_state(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let scrape = || async {
        let r = app.get("/metrics").anonymous().send().await;
        ensure!(r.status == 200, "{}: {}", r.status, r.text);
        let content_type = r
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        ensure!(content_type.starts_with("text/plain"), "{content_type}");
        ensure!(
            r.text.contains("# TYPE phoneverify_sms_jobs gauge"),
            "{}",
            r.text
        );
        Ok::<_, anyhow::Error>(job_gauges(&r.text))
    };
    let zero: BTreeMap<String, i64> = ["dropped", "failed", "pending", "sent"]
        .into_iter()
        .map(|s| (s.to_owned(), 0))
        .collect();
    check_eq!(scrape().await?, zero);

    // ada: sent after a replaced code was dropped; bob: given up; carol: still pending.
    let ada = app.human("ada").await?;
    send_code(&app, &ada, PHONE_A).await?;
    app.clock.advance(Duration::seconds(31));
    resend(&app, &ada).await?;
    app.deliver().await?;
    let bob = app.human("bob").await?;
    send_code(&app, &bob, PHONE_B).await?;
    app.clock.advance(Duration::minutes(11));
    app.deliver().await?;
    let carol = app.human("carol").await?;
    send_code(&app, &carol, "+41791112200").await?;

    let expected: BTreeMap<String, i64> =
        [("dropped", 1), ("failed", 1), ("pending", 1), ("sent", 1)]
            .into_iter()
            .map(|(s, n)| (s.to_owned(), n))
            .collect();
    check_eq!(scrape().await?, expected);
    Ok(())
}

//! The local gateway: an axum server on a loopback port that records each request and answers as scripted.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use anyhow::{Result, bail};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16, &'static str),
    /// Holds the request far longer than any provider timeout.
    Hang,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    pub path: String,
    headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The number a webhook request is for.
    pub fn recipient(&self) -> String {
        self.json()["contextInfo"]["recipientPhoneNumber"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// The fields of a form-encoded body.
    pub fn form(&self) -> BTreeMap<String, String> {
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

pub struct Gateway {
    addr: std::net::SocketAddr,
    state: Arc<GatewayState>,
    server: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Answers `default` to every request not scripted with `then`.
    pub async fn start(default: Reply) -> Result<Self> {
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

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next requests get these answers, in order.
    pub fn then(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    pub fn set_default(&self, reply: Reply) {
        *self.state.default.lock().unwrap() = Some(reply);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits (in real time) until the gateway has seen `n` requests.
    pub async fn wait_for(&self, n: usize, within: StdDuration) -> Result<()> {
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

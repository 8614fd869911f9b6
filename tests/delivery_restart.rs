//! The real binary with the webhook provider: a process killed with SIGKILL after it committed a code but
//! before the SMS got through loses nothing. The next start delivers it, once, with the code that verifies.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "support/server.rs"]
mod server;
#[path = "support/signature.rs"]
mod signature;
use serde_json::{Value, json};
use server::Server;
use signature::check_signature;

const SIGNING_KEY: &str = "whsec-restart-test-key";
const PHONE: &str = "+41791234567";

/// A stand-in SMS gateway on a loopback port: records each request and answers with the current status.
#[derive(Clone)]
struct Gateway {
    port: u16,
    state: Arc<Mutex<GatewayState>>,
}

struct GatewayState {
    status: u16,
    /// (signature header, body, status answered)
    received: Vec<(Option<String>, String, u16)>,
}

impl Gateway {
    fn start(status: u16) -> Gateway {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(GatewayState {
            status,
            received: Vec::new(),
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = serve(stream, &shared);
            }
        });
        Gateway { port, state }
    }

    fn set_status(&self, status: u16) {
        self.state.lock().unwrap().status = status;
    }

    fn received(&self) -> Vec<(Option<String>, String, u16)> {
        self.state.lock().unwrap().received.clone()
    }

    fn accepted(&self) -> Vec<(Option<String>, String)> {
        self.received()
            .into_iter()
            .filter(|r| r.2 == 200)
            .map(|r| (r.0, r.1))
            .collect()
    }

    fn wait_until(&self, what: &str, done: impl Fn(&Gateway) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(40);
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn serve(stream: TcpStream, state: &Mutex<GatewayState>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut length = 0;
    let mut signature = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "zitadel-signature" => signature = Some(value.trim().to_owned()),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let status = {
        let mut s = state.lock().unwrap();
        let status = s.status;
        s.received.push((
            signature,
            String::from_utf8_lossy(&body).into_owned(),
            status,
        ));
        status
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    )?;
    stream.flush()
}

/// One `phoneverify serve` process; killed (SIGKILL) when dropped.
/// The binary with the webhook provider pointed at `gateway`, signing with SIGNING_KEY.
fn start_server(dir: &Path, gateway: &Gateway) -> Server {
    let url = format!("http://127.0.0.1:{}/sms", gateway.port);
    Server::start(
        dir,
        &[
            ("PHONEVERIFY_SMS__PROVIDER", "webhook"),
            ("PHONEVERIFY_SMS__WEBHOOK__URL", &url),
            ("PHONEVERIFY_SMS__WEBHOOK__SIGNING_KEY", SIGNING_KEY),
            // Long codes of letters and digits: a six-digit code could turn up in a log's timestamps by chance.
            ("PHONEVERIFY_CODE__ALPHABET", "alphanumeric"),
            ("PHONEVERIFY_CODE__LENGTH", "12"),
        ],
    )
}

fn assert_signed(header: Option<&str>, body: &str) {
    let header = header.expect("the request is signed");
    if let Err(e) = check_signature(header, body.as_bytes(), SIGNING_KEY) {
        panic!("signature over t.body: {e}");
    }
}

#[test]
fn a_code_committed_before_a_kill_9_is_delivered_after_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(503);

    let first = start_server(dir.path(), &gateway);
    let token = first.admin_token();
    let (status, created) = first.http(
        "POST",
        "/v2/users/human",
        Some(&token),
        Some(
            json!({"username": "ada", "profile": {"givenName": "Ada", "familyName": "L"},
                    "email": {"email": "ada@example.com"}}),
        ),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["userId"].as_str().unwrap().to_owned();
    // The gateway is down: the request is answered at once all the same.
    let started = Instant::now();
    let (status, body) = first.http(
        "POST",
        &format!("/v2/users/{id}/phone"),
        Some(&token),
        Some(json!({"phone": PHONE, "sendCode": {}})),
    );
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // The worker tried (and failed); the process dies before the retry.
    gateway.wait_until("the first attempt", |g| !g.received().is_empty());
    let first_log = first.kill_9();
    let attempts_before = gateway.received().len();
    assert!(gateway.accepted().is_empty());

    gateway.set_status(200);
    let second = start_server(dir.path(), &gateway);
    gateway.wait_until("the delivery", |g| !g.accepted().is_empty());
    // Let a duplicate show up if there were one.
    std::thread::sleep(Duration::from_millis(1500));
    let accepted = gateway.accepted();
    assert_eq!(accepted.len(), 1, "delivered exactly once");
    assert_eq!(gateway.received().len(), attempts_before + 1);
    let (signature, body) = &accepted[0];
    assert_signed(signature.as_deref(), body);
    let sms: Value = serde_json::from_str(body).unwrap();
    assert_eq!(sms["contextInfo"]["recipientPhoneNumber"], json!(PHONE));
    assert_eq!(sms["args"]["userId"], json!(id));
    let code = sms["args"]["code"].as_str().unwrap().to_owned();

    let (status, user) = second.http("GET", &format!("/v2/users/{id}"), Some(&token), None);
    assert_eq!(status, 200);
    assert_eq!(
        user["user"]["human"]["phone"]["codeDelivery"],
        json!("CODE_DELIVERY_SENT")
    );
    let (status, metrics) = second.http("GET", "/metrics", None, None);
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    assert!(
        metrics.contains("phoneverify_sms_jobs{state=\"sent\"} 1")
            && metrics.contains("phoneverify_sms_jobs{state=\"pending\"} 0"),
        "{metrics}"
    );
    // The code the second process decrypted is the one the first issued.
    let (status, body) = second.verify(&token, &id, &code);
    assert_eq!(status, 200, "{body}");

    let (status, second_log) = second.terminate();
    assert!(status.success(), "exit status {status:?}: {second_log}");
    for log in [&first_log, &second_log] {
        assert!(!log.contains(&code), "the code must not be logged: {log}");
        assert!(
            !log.contains(SIGNING_KEY),
            "the signing key must not be logged"
        );
    }
    assert!(
        first_log.contains("503"),
        "the failed attempt is logged with its status: {first_log}"
    );
}

//! The real binary with the webhook provider: a process killed with SIGKILL after it committed a code but
//! before the SMS got through loses nothing. The next start delivers it, once, with the code that verifies.

use std::path::Path;
use std::time::{Duration, Instant};

#[path = "support/gateway.rs"]
mod gateway;
#[path = "support/server.rs"]
mod server;
#[path = "support/signature.rs"]
mod signature;
use gateway::Gateway;
use serde_json::{Value, json};
use server::Server;
use signature::check_signature;

const SIGNING_KEY: &str = "whsec-restart-test-key";
const PHONE: &str = "+41791234567";

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

//! The request log as an operator reads it from the real binary: one line per request with route, status,
//! latency, caller and request ID; the ID echoed to the client; JSON when asked; no colour codes in a file;
//! no token, code or phone number in any line.

#[path = "support/server.rs"]
mod server;

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::{Value, json};
use server::Server;

/// Sends `head` (request line and headers, without the blank line) and `body`; the response head and body.
fn raw(server: &Server, head: &str, body: &str) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(
        stream,
        "{head}\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_ascii_lowercase(), body.to_owned())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .map(str::trim)
}

/// The JSON log lines that close a request.
fn served(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "request served")
        .collect()
}

#[test]
fn each_request_logs_one_json_line_with_route_status_latency_caller_and_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            ("PHONEVERIFY_LOG__FORMAT", "json"),
            ("PHONEVERIFY_SMS__PROVIDER", "none"),
        ],
    );
    let token = server.admin_token();
    let admin = server::subject_of(&token);
    let (status, created) = server.http(
        "POST",
        "/v2/users/human",
        Some(&token),
        Some(json!({"username": "ada", "profile": {"givenName": "Ada", "familyName": "L"},
                    "email": {"email": "ada@x.ch"}, "phone": {"phone": "+41791234567", "returnCode": {}}})),
    );
    assert_eq!(status, 201, "{created}");
    let user = created["userId"].as_str().unwrap();
    let code = created["phoneCode"].as_str().unwrap();

    // A well-formed ID from the client is kept and echoed.
    let (head, _) = raw(
        &server,
        &format!(
            "GET /v2/users/{user} HTTP/1.1\r\nAuthorization: Bearer {token}\r\nx-request-id: trace-42.a"
        ),
        "",
    );
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(header(&head, "x-request-id"), Some("trace-42.a"));
    // One that could forge a log field is replaced by a generated one.
    let (head, _) = raw(&server, "GET /healthz HTTP/1.1\r\nx-request-id: a\"b c", "");
    let generated = header(&head, "x-request-id").unwrap();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    // An RPC is logged under its method's path, with the caller it authenticated.
    let (head, body) = raw(
        &server,
        &format!(
            "POST /zitadel.user.v2.UserService/GetUserByID HTTP/1.1\r\nAuthorization: Bearer {token}"
        ),
        &json!({"userId": user}).to_string(),
    );
    assert!(head.starts_with("http/1.1 200"), "{head}{body}");
    let (status, _) = server.verify(&token, user, code);
    assert_eq!(status, 200);

    let (_, log) = server.terminate();
    let lines = served(&log);
    let read = lines
        .iter()
        .find(|l| l["span"]["request_id"] == "trace-42.a")
        .unwrap_or_else(|| panic!("no line for the request: {log}"));
    assert_eq!(read["span"]["route"], "/v2/users/{userId}");
    assert_eq!(read["span"]["method"], "GET");
    assert_eq!(read["span"]["caller"], admin.as_str());
    assert_eq!(read["status"], 200);
    assert!(
        read["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{read}"
    );
    let health = lines
        .iter()
        .find(|l| l["span"]["request_id"] == generated)
        .unwrap_or_else(|| panic!("no line for the generated ID: {log}"));
    assert_eq!(health["span"]["route"], "/healthz");
    assert!(health["span"].get("caller").is_none(), "{health}");
    let rpc = lines
        .iter()
        .find(|l| l["span"]["route"] == "/zitadel.user.v2.UserService/GetUserByID")
        .unwrap_or_else(|| panic!("no line for the RPC: {log}"));
    assert_eq!(rpc["span"]["caller"], admin.as_str());
    // One line per request: create, read, health, RPC, verify (and the start-up probes of /healthz).
    let verified = lines
        .iter()
        .filter(|l| l["span"]["route"] == "/v2/users/{userId}/phone/verify")
        .count();
    assert_eq!(verified, 1, "{log}");

    for secret in [token.as_str(), code, "791234567"] {
        assert!(!log.contains(secret), "the log holds a secret: {log}");
    }
}

#[test]
fn text_logs_written_to_a_file_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let (status, _) = server.http("GET", "/healthz", None, None);
    assert_eq!(status, 200);
    let (_, log) = server.terminate();
    assert!(log.contains("request served"), "{log}");
    assert!(log.contains("route=\"/healthz\""), "{log}");
    assert!(!log.contains('\u{1b}'), "ANSI escapes in a file: {log}");
}

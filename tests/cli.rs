//! The binary as an operator runs it: `serve` on a real port, SIGTERM, `migrate`, `token`, bad settings.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_phoneverify"));
    // Start from a clean slate: nothing from the developer's shell leaks into the settings.
    for (k, _) in std::env::vars() {
        if k.starts_with("PHONEVERIFY_") {
            c.env_remove(k);
        }
    }
    c.env("RUST_LOG", "info");
    c
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let log = dir.join(format!("server-{port}.log"));
        let mut cmd = bin();
        cmd.current_dir(dir)
            .env("PHONEVERIFY_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let server = Server { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok((200, _)) = server.try_http("GET", "/healthz", None, None) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("server did not come up: {}", server.log_text());
    }

    fn try_http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> std::io::Result<(u16, Value)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        let mut raw = String::new();
        stream.read_to_string(&mut raw)?;
        let status = raw
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        // Small bodies come chunked or with a length; take the JSON object in either case.
        let json_text = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            rest.lines()
                .filter(|l| l.starts_with('{') || l.starts_with('['))
                .collect::<String>()
        } else {
            rest.to_owned()
        };
        Ok((
            status,
            serde_json::from_str(&json_text).unwrap_or(Value::Null),
        ))
    }

    fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.try_http(method, path, token, body.as_ref()).unwrap()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then the exit status.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn subject_of(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}

#[test]
fn serve_bootstraps_answers_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("PHONEVERIFY_SMS__PROVIDER", "none")]);
    let token_path = dir.path().join("data/admin.token");
    let token = std::fs::read_to_string(&token_path)
        .unwrap()
        .trim()
        .to_owned();
    assert!(
        server.log_text().contains("admin.token"),
        "the log names the token file"
    );

    let (status, created) = server.http(
        "POST",
        "/v2/users/human",
        Some(&token),
        Some(json!({"username": "ada", "profile": {"givenName": "Ada", "familyName": "L"}, "email": {"email": "ada@x.ch"},
                    "phone": {"phone": "+41791234567", "returnCode": {}}})),
    );
    assert_eq!(status, 200, "{created}");
    let id = created["userId"].as_str().unwrap();
    let code = created["phoneCode"].as_str().unwrap().to_owned();
    // With no provider, a send is refused rather than dropped.
    let (status, body) = server.http(
        "POST",
        &format!("/v2/users/{id}/phone/resend"),
        Some(&token),
        Some(json!({})),
    );
    assert_eq!((status, body["code"].clone()), (400, json!(9)), "{body}");
    let (status, _) = server.http(
        "POST",
        &format!("/v2/users/{id}/phone/verify"),
        Some(&token),
        Some(json!({"verificationCode": "000"})),
    );
    assert_eq!(status, 400);
    let (status, body) = server.http(
        "POST",
        &format!("/v2/users/{id}/phone/verify"),
        Some(&token),
        Some(json!({"verificationCode": code})),
    );
    assert_eq!(status, 200, "{body}");

    let (status, log) = server.terminate();
    assert!(status.success(), "exit status {status:?}: {log}");
    assert!(!log.contains(&code), "the code must not appear in the log");
    assert!(
        !log.contains(&token),
        "the admin token must not appear in the log"
    );

    // A second start reuses the data and the token file.
    let again = Server::start(dir.path(), &[]);
    assert_eq!(std::fs::read_to_string(&token_path).unwrap().trim(), token);
    let (status, body) = again.http("GET", &format!("/v2/users/{id}"), Some(&token), None);
    assert_eq!(status, 200);
    assert_eq!(
        body["user"]["human"]["phone"],
        json!({"phone": "+41791234567", "isVerified": true})
    );
    assert!(again.terminate().0.success());
}

#[test]
fn token_command_issues_tokens_for_active_users_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .current_dir(dir.path())
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));

    let server = Server::start(dir.path(), &[]);
    let admin_token = std::fs::read_to_string(dir.path().join("data/admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(server.terminate().0.success());
    let admin = subject_of(&admin_token);

    let out = bin()
        .current_dir(dir.path())
        .args(["token", "--user-id", &admin, "--ttl", "120"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let minted = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(minted.split('.').count(), 3);
    assert_eq!(subject_of(&minted), admin);

    let server = Server::start(dir.path(), &[]);
    let (status, body) = server.http("GET", "/auth/v1/users/me", Some(&minted), None);
    assert_eq!(status, 200, "{body}");
    assert!(server.terminate().0.success());

    let out = bin()
        .current_dir(dir.path())
        .args(["token", "--user-id", "no-such-user"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_bad_setting_stops_start_up_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str); 3] = [
        ("PHONEVERIFY_CODE__LENGTH", "six", "length"),
        ("PHONEVERIFY_LISTEN", "nowhere", "listen"),
        ("PHONEVERIFY_SMS__PROVIDER", "pigeon", "provider"),
    ];
    for (key, value, named) in cases {
        let out = bin()
            .current_dir(dir.path())
            .env(key, value)
            .arg("migrate")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{key}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(named), "{key}: {err}");
    }
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[code]\nexpiry_secs = 0\n").unwrap();
    let out = bin()
        .current_dir(dir.path())
        .args(["--config", file.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("code.expiry_secs"));
    // Nothing was created by the refused starts.
    assert!(!dir.path().join("data").exists());
}

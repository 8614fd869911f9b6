//! Runs the real binary on a free loopback port and talks to it with a tiny std-only HTTP client.
//! Shared by the test binaries that need a whole process (`#[path]`-included).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

pub fn bin() -> Command {
    // `bench/soak` points this at the release build; tests use the binary cargo built for them.
    let exe = std::env::var_os("PHONEVERIFY_TEST_BINARY")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_phoneverify").into());
    let mut c = Command::new(exe);
    // Start from a clean slate: nothing from the developer's shell leaks into the settings.
    for (k, _) in std::env::vars() {
        if k.starts_with("PHONEVERIFY_") {
            c.env_remove(k);
        }
    }
    c.env("RUST_LOG", "info,phoneverify::store=debug");
    c
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

pub struct Server {
    child: Child,
    pub port: u16,
    client: Client,
    dir: PathBuf,
    log: PathBuf,
}

impl Server {
    /// Starts the binary on a free port. A port found free can be taken before the server binds it (by
    /// another test's server, or as the local end of a client connection), so a bind failure is retried
    /// on another port.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        std::fs::create_dir_all(dir).unwrap();
        for _ in 0..5 {
            let mut server = Self::spawn_on(free_port(), dir, env);
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok((200, _)) = server.try_http("GET", "/healthz", None, None) {
                    return server;
                }
                if let Ok(Some(_)) = server.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let log = server.log_text();
            if !log.contains("Address already in use") {
                panic!("server did not come up: {log}");
            }
        }
        panic!("server did not come up: every port tried was taken");
    }

    fn spawn_on(port: u16, dir: &Path, env: &[(&str, &str)]) -> Server {
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
        Server {
            child,
            port,
            client: Client { port },
            dir: dir.to_owned(),
            log,
        }
    }

    /// A client for this server's port, for threads that do not own the process.
    pub fn attach(port: u16) -> Client {
        Client { port }
    }

    /// The admin token the process found or wrote in its data directory.
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.dir.join("data/admin.token"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// POST /v2/users/{id}/phone/resend with `body`.
    pub fn resend(&self, token: &str, user_id: &str, body: Value) -> (u16, Value) {
        let path = format!("/v2/users/{user_id}/phone/resend");
        self.http("POST", &path, Some(token), Some(body))
    }

    /// POST /v2/users/{id}/phone/verify.
    pub fn verify(&self, token: &str, user_id: &str, code: &str) -> (u16, Value) {
        let path = format!("/v2/users/{user_id}/phone/verify");
        let body = serde_json::json!({ "verificationCode": code });
        self.http("POST", &path, Some(token), Some(body))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown code runs. Returns the log.
    pub fn kill_9(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log_text()
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
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

/// A server answers like a client of its port.
impl std::ops::Deref for Server {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

/// Talks to a server on a port, without owning its process.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    pub port: u16,
}

impl Client {
    pub fn try_http(
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
        let text = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(rest)
        } else {
            rest.to_owned()
        };
        // JSON bodies as JSON; anything else (the metrics page) as a string.
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    pub fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.try_http(method, path, token, body.as_ref()).unwrap()
    }
}

/// The `kid` in a token's header.
pub fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

pub fn subject_of(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}

impl Drop for Server {
    /// A test that fails midway does not leave its server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Decodes an HTTP/1.1 chunked body.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

//! A stand-in SMS gateway for the webhook provider, on a loopback port: records each request (its signature
//! header and body) and answers with a status the test sets. `#[path]`-included by the tests that need it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A stand-in SMS gateway on a loopback port: records each request and answers with the current status.
#[derive(Clone)]
pub struct Gateway {
    pub port: u16,
    state: Arc<Mutex<GatewayState>>,
}

struct GatewayState {
    status: u16,
    /// (signature header, body, status answered)
    received: Vec<(Option<String>, String, u16)>,
}

impl Gateway {
    pub fn start(status: u16) -> Gateway {
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

    pub fn set_status(&self, status: u16) {
        self.state.lock().unwrap().status = status;
    }

    pub fn received(&self) -> Vec<(Option<String>, String, u16)> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn accepted(&self) -> Vec<(Option<String>, String)> {
        self.received()
            .into_iter()
            .filter(|r| r.2 == 200)
            .map(|r| (r.0, r.1))
            .collect()
    }

    pub fn wait_until(&self, what: &str, done: impl Fn(&Gateway) -> bool) {
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

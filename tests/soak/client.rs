//! A keep-alive HTTP/1.1 client on one TCP connection: the soak sends hundreds of thousands of requests, and
//! a connection per request would run the loopback out of ports (TIME_WAIT).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

pub struct KeepAlive {
    port: u16,
    token: String,
    conn: Option<BufReader<TcpStream>>,
}

impl KeepAlive {
    pub fn new(port: u16, token: &str) -> Self {
        KeepAlive {
            port,
            token: token.to_owned(),
            conn: None,
        }
    }

    /// One request; the connection is reopened if the server closed it. An I/O error is returned, not retried:
    /// the request may or may not have been answered, and the soak counts it as an error.
    pub fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> std::io::Result<(u16, Value)> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(("127.0.0.1", self.port))?;
            stream.set_read_timeout(Some(Duration::from_secs(30)))?;
            stream.set_nodelay(true)?;
            self.conn = Some(BufReader::new(stream));
        }
        let result = self.exchange(method, path, body);
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    fn exchange(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> std::io::Result<(u16, Value)> {
        let conn = self.conn.as_mut().ok_or(std::io::ErrorKind::NotConnected)?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.token,
            body.len()
        );
        conn.get_mut().write_all(request.as_bytes())?;
        let mut line = String::new();
        conn.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut length = 0usize;
        let mut close = false;
        loop {
            line.clear();
            conn.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let lower = header.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().map_err(std::io::Error::other)?;
            }
            if lower.starts_with("transfer-encoding:") {
                return Err(std::io::Error::other(
                    "chunked answers are not expected here",
                ));
            }
            close |= lower == "connection: close";
        }
        let mut buf = vec![0; length];
        conn.read_exact(&mut buf)?;
        if close {
            self.conn = None;
        }
        let value = serde_json::from_slice(&buf)
            .unwrap_or(Value::String(String::from_utf8_lossy(&buf).into()));
        Ok((status, value))
    }
}

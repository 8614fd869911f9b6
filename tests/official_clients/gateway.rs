//! A stand-in SMS gateway that records the codes it is sent.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// A stand-in SMS provider on a loopback port. `POST /sms` takes the webhook provider's JSON and answers 200;
/// `GET /codes/<digits>` answers `{"codes": [...]}`, the codes sent to +<digits>, oldest first.
pub(crate) struct Gateway;

pub(crate) type Codes = Arc<Mutex<HashMap<String, Vec<String>>>>;

impl Gateway {
    pub(crate) fn start() -> Result<u16, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let codes = Codes::default();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let codes = codes.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &codes);
                });
            }
        });
        Ok(port)
    }
}

pub(crate) fn serve(stream: TcpStream, codes: &Codes) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut parts = request_line.split_whitespace();
    let (status, answer) = match (parts.next(), parts.next()) {
        (Some("POST"), Some("/sms")) => record(codes, &body),
        (Some("GET"), Some(path)) if path.starts_with("/codes/") => {
            let digits = &path["/codes/".len()..];
            let list = codes
                .lock()
                .map(|c| c.get(digits).cloned().unwrap_or_default())
                .unwrap_or_default();
            (200, json!({ "codes": list }))
        }
        _ => (404, json!({"error": "not found"})),
    };
    let answer = answer.to_string();
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    )?;
    stream.flush()
}

/// Keeps the code of one webhook request under the recipient's digits.
pub(crate) fn record(codes: &Codes, body: &[u8]) -> (u16, Value) {
    let Ok(sms) = serde_json::from_slice::<Value>(body) else {
        return (400, json!({"error": "body is not JSON"}));
    };
    let to = sms["contextInfo"]["recipientPhoneNumber"].as_str();
    let code = sms["args"]["code"].as_str();
    let (Some(to), Some(code)) = (to, code) else {
        return (
            400,
            json!({"error": "recipientPhoneNumber or code missing"}),
        );
    };
    if let Ok(mut c) = codes.lock() {
        c.entry(to.trim_start_matches('+').to_owned())
            .or_default()
            .push(code.to_owned());
    }
    (200, json!({}))
}

//! Slow, idle and too many clients against the real binary: a header deadline that also closes idle
//! connections, a cap on open connections answered 503, a body announced too large refused at once, and a
//! body that trickles in answered 408.

#[path = "support/server.rs"]
mod server;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use server::Server;

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection (or 15 s pass); what it sent.
fn read_to_close(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn slow_and_idle_clients_are_cut_off_at_the_header_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[("PHONEVERIFY_HTTP__HEADER_READ_TIMEOUT_SECS", "2")],
    );
    // One header line a second: the headers never complete.
    let mut slow = connect(&server);
    let started = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let writer = {
        let mut slow = slow.try_clone().unwrap();
        std::thread::spawn(move || {
            for i in 0..20 {
                std::thread::sleep(Duration::from_millis(500));
                if slow
                    .write_all(format!("X-Slow-{i}: 1\r\n").as_bytes())
                    .is_err()
                {
                    break;
                }
            }
        })
    };
    read_to_close(&mut slow);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    writer.join().unwrap();

    // A connection that never sends a byte, and one idle after a first request.
    let mut idle = connect(&server);
    let started = Instant::now();
    read_to_close(&mut idle);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let mut kept = connect(&server);
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let answer = read_to_close(&mut kept);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(server.terminate().0.success());
}

#[test]
fn connections_over_the_cap_get_503_and_the_server_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("PHONEVERIFY_HTTP__MAX_CONNECTIONS", "3")]);
    // Each held connection is answered once (keep-alive), so the server has surely taken all three before the
    // fourth arrives, however busy the machine is. The start-up probe's connection may still hold its slot for
    // a moment after it closed: a 503 then is retried.
    let held: Vec<TcpStream> = (0..3)
        .map(|_| {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let mut c = connect(&server);
                c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    .unwrap();
                let mut buf = [0u8; 512];
                let n = c.read(&mut buf).unwrap();
                if buf[..n].starts_with(b"HTTP/1.1 200") {
                    break c;
                }
                assert!(
                    buf[..n].starts_with(b"HTTP/1.1 503") && Instant::now() < deadline,
                    "{}",
                    String::from_utf8_lossy(&buf[..n])
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        })
        .collect();
    let mut over = connect(&server);
    let _ = over.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let answer = read_to_close(&mut over);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.contains(r#""code":14"#) && answer.contains("API-C0nnL"),
        "{answer}"
    );
    drop(held);
    // The slots come back as the held connections close.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok((200, _)) = server.try_http("GET", "/healthz", None, None) {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not recover");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(server.terminate().0.success());
}

#[test]
fn bodies_announced_too_large_or_trickling_in_are_refused_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[("PHONEVERIFY_HTTP__BODY_READ_TIMEOUT_SECS", "2")],
    );
    let token = server.admin_token();

    let mut huge = connect(&server);
    let started = Instant::now();
    huge.write_all(
        format!(
            "POST /v2/users/1/phone/resend HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: 10000000000\r\nConnection: close\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .unwrap();
    let mut first = [0u8; 512];
    let n = huge.read(&mut first).unwrap();
    let answer = String::from_utf8_lossy(&first[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    let mut slow = connect(&server);
    let started = Instant::now();
    slow.write_all(
        format!(
            "POST /v2/users/1/phone/resend HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: 40\r\nConnection: close\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .unwrap();
    let writer = {
        let mut slow = slow.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..10 {
                std::thread::sleep(Duration::from_secs(1));
                if slow.write_all(b" ").is_err() {
                    break;
                }
            }
        })
    };
    let answer = read_to_close(&mut slow);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("API-B0dyT"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    writer.join().unwrap();
    assert!(server.terminate().0.success());
}

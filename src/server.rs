//! The listener: HTTP/1.1 and HTTP/2 (cleartext, prior knowledge, for gRPC) on one port, with the limits that
//! keep slow or idle clients from holding the server: a deadline for request headers (which also closes idle
//! keep-alive connections), a cap on open connections answered with a clear 503, and HTTP/2 stream limits.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Concurrent HTTP/2 streams per connection: enough for a busy gRPC client, bounded for a hostile one.
const MAX_STREAMS_PER_CONNECTION: u32 = 256;
/// Largest header block accepted over HTTP/2 (hyper's HTTP/1 parser has its own bound).
const MAX_HEADER_LIST_BYTES: u32 = 16 * 1024;
/// How long shutdown waits for requests in flight before closing their connections.
const DRAIN: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

/// Serves `app` until `shutdown` completes, then stops accepting and lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .max_header_list_size(MAX_HEADER_LIST_BYTES)
        // A peer that stops answering pings is gone: its connection is closed.
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, most likely: wait for connections to close rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let first_byte_deadline = limits.header_read_timeout;
        tokio::spawn(async move {
            // hyper's header deadline starts with the first byte; a client that connects and sends nothing
            // would otherwise hold its slot for ever.
            let mut first = [0u8; 1];
            if !matches!(
                tokio::time::timeout(first_byte_deadline, stream.peek(&mut first)).await,
                Ok(Ok(1..))
            ) {
                drop(slot);
                return;
            }
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            // A client that goes away mid-request is not the server's error.
            let _ = watcher.watch(connection).await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {DRAIN:?} of shutdown were cut off");
    }
}

/// Answers a connection over the cap with 503 in the API's error format and closes it.
async fn refuse(mut stream: TcpStream) {
    const BODY: &str = r#"{"code":14,"message":"Too many open connections, try again later (API-C0nnL)","details":[{"@type":"type.googleapis.com/zitadel.v1.ErrorDetail","id":"API-C0nnL","message":"Too many open connections, try again later"}]}"#;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: 1\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

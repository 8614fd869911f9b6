//! Why a request failed on our side: kept for the log, never sent. An `ApiError` hands its cause to the
//! response as an extension; `log_server_errors`, a layer inside the request's span, logs it once for
//! every 5xx answer and drops it.

use std::error::Error;
use std::fmt::Write;
use std::sync::Arc;

use axum::response::Response;

/// The cause of an error answer, as a response extension between the handler and the logging layer.
#[derive(Debug, Clone)]
pub struct ErrorCause(pub Arc<dyn Error + Send + Sync>);

/// The error and each of its sources, outermost first, separated by ": ".
pub fn chain(err: &(dyn Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        // Writing to a String cannot fail.
        let _ = write!(out, ": {inner}");
        source = inner.source();
    }
    out
}

/// Logs a 5xx answer with its cause; the only place where server-side failures of requests are logged.
pub async fn log_server_errors(mut response: Response) -> Response {
    log_server_error(&mut response);
    response
}

fn log_server_error(response: &mut Response) {
    let cause = response.extensions_mut().remove::<ErrorCause>();
    let status = response.status();
    if !status.is_server_error() {
        return;
    }
    match cause {
        Some(ErrorCause(cause)) => {
            tracing::error!(status = status.as_u16(), cause = %chain(cause.as_ref()), "request failed");
        }
        None => tracing::error!(status = status.as_u16(), "request failed"),
    }
}

/// Collects what is logged on this thread while it lives, as the fmt subscriber writes it.
#[cfg(test)]
pub(crate) struct CapturedLog {
    buffer: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

#[cfg(test)]
impl CapturedLog {
    pub(crate) fn start() -> Self {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || SharedWriter(sink.clone()))
            .with_ansi(false)
            .finish();
        Self {
            buffer,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().unwrap()).into_owned()
    }
}

#[cfg(test)]
struct SharedWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

#[cfg(test)]
impl std::io::Write for SharedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("commit failed")]
    struct Outer(#[source] io::Error);

    #[test]
    fn chain_names_every_source() {
        let err = Outer(io::Error::other("connection reset"));
        assert_eq!(chain(&err), "commit failed: connection reset");
    }

    fn answer(status: StatusCode, cause: &str) -> Response {
        let mut response = status.into_response();
        let cause: Arc<dyn Error + Send + Sync> =
            Arc::new(Outer(io::Error::other(cause.to_owned())));
        response.extensions_mut().insert(ErrorCause(cause));
        response
    }

    #[test]
    fn a_server_error_is_logged_with_its_cause_chain() {
        let mut response = answer(StatusCode::INTERNAL_SERVER_ERROR, "disk full");
        let log = CapturedLog::start();
        log_server_error(&mut response);
        let text = log.text();
        assert!(text.contains("ERROR"), "{text}");
        assert!(text.contains("commit failed: disk full"), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(response.extensions().get::<ErrorCause>().is_none());
    }

    #[test]
    fn client_errors_and_successes_are_not_logged() {
        let log = CapturedLog::start();
        for status in [
            StatusCode::OK,
            StatusCode::BAD_REQUEST,
            StatusCode::CONFLICT,
        ] {
            log_server_error(&mut answer(status, "ignored"));
        }
        assert_eq!(log.text(), "");
    }
}

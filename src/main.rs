use std::io::{BufWriter, IsTerminal};

use clap::Parser;
use phoneverify::cli::{Cli, run};
use phoneverify::config::{Config, LogFormat};
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Lines the log thread may fall behind by before a request waits for it.
const LOG_LINES_QUEUED: usize = 16_384;
/// The most the log thread writes at once.
const LOG_WRITE_BYTES: usize = 64 * 1024;

// See Cargo.toml: the allocator is chosen for the server's many small, short-lived allocations per request.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("phoneverify: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let log_writer = init_logging(config.log.format);
    let result = run(cli, config).await;
    // Writes out the lines still queued, before the error (if any) below them.
    drop(log_writer);
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("phoneverify: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs to stderr; colour only for a person at a terminal, never into a file or a collector.
fn init_logging(format: LogFormat) -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = log_writer();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => {
            let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            builder.with_ansi(colour).init();
        }
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    guard
}

/// Lines go to a thread of their own, which writes all that queued while it wrote the last ones in one go.
/// Written by each request's own thread, a line was a write under stderr's lock per request: request
/// threads waited for each other there. A full queue makes a request wait rather than lose its line.
fn log_writer() -> (NonBlocking, WorkerGuard) {
    NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(LOG_LINES_QUEUED)
        .thread_name("log-writer")
        .finish(BufWriter::with_capacity(LOG_WRITE_BYTES, std::io::stderr()))
}

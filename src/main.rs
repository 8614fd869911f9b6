use std::io::IsTerminal;

use clap::Parser;
use phoneverify::cli::{Cli, run};
use phoneverify::config::{Config, LogFormat};
use tracing_subscriber::EnvFilter;

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
    init_logging(config.log.format);
    match run(cli, config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("phoneverify: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs to stderr; colour only for a person at a terminal, never into a file or a collector.
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
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
}

//! A throwaway Postgres database for the Postgres trial of a test binary that runs the real server: made on
//! the server that PHONEVERIFY_TEST_POSTGRES_URL names, dropped afterwards whatever the outcome.
#![allow(dead_code)]

use std::process::Command;

/// The Postgres server the suite may use, if one is configured.
pub fn postgres_server() -> Option<String> {
    std::env::var("PHONEVERIFY_TEST_POSTGRES_URL")
        .ok()
        .filter(|v| !v.is_empty())
}

/// Runs `body` with the URL of a new database named `<prefix>_<random>` on `server`, then drops it.
pub fn with_scratch_database<T>(
    server: &str,
    prefix: &str,
    body: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, String> {
    let db = format!("{prefix}_{:016x}", rand::random::<u64>());
    psql(server, &format!("CREATE DATABASE {db}"))?;
    let result = body(&with_database(server, &db));
    let _ = psql(
        server,
        &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
    );
    result
}

fn psql(url: &str, sql: &str) -> Result<(), String> {
    let status = Command::new("psql")
        .args(["-w", url, "-qc", sql])
        .status()
        .map_err(|e| format!("psql: {e}"))?;
    status
        .success()
        .then_some(())
        .ok_or(format!("psql failed: {sql}"))
}

/// `server` with its database name replaced by `db` (query parameters kept).
fn with_database(server: &str, db: &str) -> String {
    let (base, query) = server
        .split_once('?')
        .map_or((server, None), |(b, q)| (b, Some(q)));
    let cut = base
        .rfind('/')
        .filter(|&i| i > base.find("://").map_or(0, |j| j + 2));
    let base = cut.map_or(base, |i| &base[..i]);
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

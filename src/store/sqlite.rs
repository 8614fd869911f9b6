//! The embedded default: one SQLite file in WAL mode.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};

use super::StoreError;
use super::sql::store_impl;

/// How long a writer waits for SQLite's single write lock before giving up (answered as 14 UNAVAILABLE).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct SqliteStore {
    pool: Pool<Sqlite>,
}

impl SqliteStore {
    pub const BACKEND: &'static str = "sqlite";

    pub async fn connect(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Internal(format!("migration failed: {e}")))?;
        Ok(Self { pool })
    }
}

// Writers take SQLite's write lock up front: a deferred transaction that reads first could not upgrade
// once another connection committed, and would fail instead of waiting.
store_impl!(
    SqliteStore,
    Sqlite,
    "BEGIN IMMEDIATE",
    "UPDATE sms_jobs SET locked_until = $1 WHERE id IN (SELECT id FROM sms_jobs WHERE state = 'pending' \
     AND next_attempt_at <= $2 AND locked_until <= $2 ORDER BY next_attempt_at LIMIT $3)",
    ""
);

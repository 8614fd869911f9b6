//! Postgres, for several server processes behind a load balancer.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{Pool, Postgres};

use super::StoreError;
use super::sql::store_impl;

pub struct PgStore {
    pool: Pool<Postgres>,
}

impl PgStore {
    pub const BACKEND: &'static str = "postgres";

    pub async fn connect(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .connect(url)
            .await?;
        // sqlx's migrator holds a Postgres advisory lock while it runs, so processes starting together
        // apply each migration once.
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::failed("migration failed", e))?;
        Ok(Self { pool })
    }
}

// SKIP LOCKED lets concurrent workers lease different jobs instead of queueing on the same rows.
store_impl!(
    PgStore,
    Postgres,
    "BEGIN",
    "UPDATE sms_jobs SET locked_until = $1 WHERE id IN (SELECT id FROM sms_jobs WHERE state = 'pending' \
     AND next_attempt_at <= $2 AND locked_until <= $2 ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)",
    "LOCK TABLE events IN EXCLUSIVE MODE"
);

//! Postgres, for several server processes behind a load balancer.

use std::time::Duration;

use sqlx::Postgres;
use sqlx::postgres::{PgPoolOptions, PgQueryResult};

use super::StoreError;
use super::writer::Writer;

/// Batches written side by side: Postgres commits them in parallel, each waiting for its own flush.
const WRITERS: usize = 4;
use super::queries;
use super::sql_store::{Backend, SqlStore};

pub type PgStore = SqlStore<Postgres>;

impl Backend for Postgres {
    const BACKEND: &'static str = "postgres";
    const BEGIN_WRITE: &'static str = queries::BEGIN_WRITE_POSTGRES;
    const CLAIM_JOBS: &'static str = queries::CLAIM_JOBS_POSTGRES;
    const LOCK_EVENTS: Option<&'static str> = Some(queries::LOCK_EVENTS_POSTGRES);

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }
}

impl PgStore {
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
        let write_pool = PgPoolOptions::new()
            .max_connections(WRITERS as u32)
            .acquire_timeout(acquire_timeout)
            .connect(url)
            .await?;
        Ok(Self {
            writer: Writer::start(Self::batch_writer(write_pool.clone()), WRITERS),
            pool,
            write_pool,
            local: None,
        })
    }
}

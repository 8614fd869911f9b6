//! Postgres, for several server processes behind a load balancer.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Postgres;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgQueryResult};

use super::StoreError;
use super::pg_connections::PgConnections;
use super::pg_lookups::PgLookups;
use super::queries;
use super::sql_store::{Backend, SqlStore};
use super::writer::Writer;

/// Batches written side by side: Postgres commits them in parallel, each waiting for its own flush.
const WRITERS: usize = 2;

/// How the writer's and the lookups' connections plan. Every statement they run finds its rows by key, but a
/// plan made while a table was small (a new database) chose scans: of every job in a hash join, of the pending
/// jobs through a partial index, of every user for a caller's lookup (500 rows read per request in the bench,
/// until autovacuum next analyzed the table). A connection keeps such a plan for as long as the statement stays
/// prepared. Without sequential scans and hash or merge joins the key lookups are the only cheap plans left,
/// and one plan per statement serves every call.
const KEY_PLANNING: [(&str, &str); 4] = [
    ("plan_cache_mode", "force_generic_plan"),
    ("enable_seqscan", "off"),
    ("enable_hashjoin", "off"),
    ("enable_mergejoin", "off"),
];

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
    /// `max_connections` bounds the lookups' connections and, apart, sqlx's pool for everything else (opened
    /// as needed: history pages, rebuilds, names). The writers and the job claims have their own few.
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
        let options = PgConnectOptions::from_str(url)?;
        let write_pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(acquire_timeout)
            .connect_with(options.clone())
            .await?;
        let writers = PgConnections::new(
            options.clone().options(KEY_PLANNING),
            WRITERS,
            acquire_timeout,
        )?;
        let connections = PgConnections::new(
            options.options(KEY_PLANNING),
            max_connections as usize,
            acquire_timeout,
        )?;
        let lookups = PgLookups::start(Arc::new(connections), max_connections as usize);
        Ok(Self {
            writer: Writer::start(super::pg_batch::batch_writer(writers), WRITERS),
            pool,
            write_pool,
            local: None,
            lookups: Some(Arc::new(lookups)),
        })
    }
}

//! Postgres connections for the hot paths: the lookups every request makes (`pg_lookups`) and the writer's
//! batches.
//!
//! sqlx's pool pings a connection when it lends it out and again when it takes it back, two round trips
//! around every query, so that a lookup cost three. Under load those pings were most of what the server and
//! Postgres did for a read. This set (a `deadpool` pool) checks a connection only when it has been idle long
//! enough to have gone stale, and replaces one whose use failed in a way that may have broken it, so a
//! restarted Postgres costs each connection one failed request (503) instead of a ping on every use.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use deadpool::Runtime;
use deadpool::managed::{self, Metrics, PoolError, RecycleError, RecycleResult};
use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::{Connection, PgConnection};

use super::StoreError;

/// A connection idle longer than this is pinged before it is lent: it may have been closed meanwhile (by
/// Postgres, a proxy, a restart) without anyone noticing.
const STALE_AFTER: Duration = Duration::from_secs(10);

/// Work on a connection, borrowing it for as long as the work runs.
pub(crate) type ConnWork<'c, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>;

pub(crate) struct PgConnections {
    pool: managed::Pool<Opener>,
}

/// A connection, and whether a failure on it may have left it unusable.
pub(crate) struct PgLink {
    conn: PgConnection,
    broken: bool,
}

struct Opener {
    options: PgConnectOptions,
}

impl managed::Manager for Opener {
    type Type = PgLink;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<PgLink, sqlx::Error> {
        Ok(PgLink {
            conn: PgConnection::connect_with(&self.options).await?,
            broken: false,
        })
    }

    async fn recycle(&self, link: &mut PgLink, metrics: &Metrics) -> RecycleResult<sqlx::Error> {
        if link.broken {
            return Err(RecycleError::message("a failed query may have broken it"));
        }
        if metrics.last_used() > STALE_AFTER {
            link.conn.ping().await.map_err(RecycleError::Backend)?;
        }
        Ok(())
    }
}

impl PgConnections {
    /// At most `size` connections, opened when first needed; waiting longer than `wait` for one is
    /// `Unavailable`.
    pub fn new(options: PgConnectOptions, size: usize, wait: Duration) -> Result<Self, StoreError> {
        let pool = managed::Pool::builder(Opener { options })
            .max_size(size.max(1))
            .wait_timeout(Some(wait))
            .create_timeout(Some(wait))
            .recycle_timeout(Some(wait))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::failed("cannot set up the Postgres connections", e))?;
        Ok(Self { pool })
    }

    /// Runs `work` on a connection of the set. A failure other than a refusal of the work itself (a
    /// conflict, a quota, a lease) retires the connection: it may be closed or out of step.
    pub async fn with<T: Send>(
        &self,
        work: impl for<'c> FnOnce(&'c mut PgConnection) -> ConnWork<'c, T> + Send,
    ) -> Result<T, StoreError> {
        let mut link = self.pool.get().await.map_err(unavailable)?;
        let outcome = work(&mut link.conn).await;
        if let Err(e) = &outcome {
            link.broken = !e.is_refusal();
        }
        outcome
    }
}

fn unavailable(e: PoolError<sqlx::Error>) -> StoreError {
    match e {
        PoolError::Backend(e) => e.into(),
        other => StoreError::Unavailable(other.to_string().into()),
    }
}

impl PgConnections {
    /// Closes the connections; work asking for one from now on is `Unavailable`.
    pub fn close(&self) {
        self.pool.close();
    }

    /// The row `sql` finds for `key`, if any.
    pub(super) async fn one<R>(
        &self,
        sql: &'static str,
        key: String,
    ) -> Result<Option<R>, StoreError>
    where
        R: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin + 'static,
    {
        self.with(|c| {
            Box::pin(async move { Ok(sqlx::query_as(sql).bind(key).fetch_optional(c).await?) })
        })
        .await
    }

    /// Every row `sql` finds for `key`.
    pub(super) async fn all<R>(&self, sql: &'static str, key: String) -> Result<Vec<R>, StoreError>
    where
        R: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin + 'static,
    {
        self.with(|c| {
            Box::pin(async move { Ok(sqlx::query_as(sql).bind(key).fetch_all(c).await?) })
        })
        .await
    }
}

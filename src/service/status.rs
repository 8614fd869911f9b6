//! What the health checks and the metrics ask: whether the database answers, and how SMS delivery is doing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use super::{ServiceError, Services};
use crate::store::{JobCounts, StoreError};

/// How long a readiness probe or a metrics scrape waits for the database. Shorter than a request may take,
/// so that a hanging database is reported as down within a probe's own timeout instead of hanging the probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a count of SMS jobs is reused for the next scrapes.
const JOB_COUNTS_REUSED_FOR: chrono::Duration = chrono::Duration::seconds(1);

/// The last count of SMS jobs and when it was taken. Counting reads an index entry per job in the table, and
/// `/metrics` needs no token: scrapes that arrive while a count runs wait for it, and those within
/// `JOB_COUNTS_REUSED_FOR` of it get it, so that no rate of scrapes makes the database count more than once a
/// second.
#[derive(Default)]
pub(crate) struct JobCountsCache(Mutex<Option<(DateTime<Utc>, JobCounts)>>);

impl Services {
    /// The database backend's name once the database answers. Any failure counts as unavailable: the
    /// question is only whether this instance should get traffic.
    pub async fn readiness(&self) -> Result<&'static str, ServiceError> {
        match tokio::time::timeout(PROBE_TIMEOUT, self.store.ping()).await {
            Ok(Ok(())) => Ok(self.store.backend()),
            Ok(Err(e)) => Err(ServiceError::Unavailable(e)),
            Err(_) => Err(no_answer("readiness check")),
        }
    }

    /// SMS delivery jobs by state, as counted within the last `JOB_COUNTS_REUSED_FOR`.
    pub async fn job_counts(&self) -> Result<JobCounts, ServiceError> {
        let count = async {
            let mut last = self.job_counts_cache.0.lock().await;
            let now = self.clock.now();
            if let Some((at, counts)) = *last
                && (at..at + JOB_COUNTS_REUSED_FOR).contains(&now)
            {
                return Ok(counts);
            }
            let counts = self.store.job_counts().await?;
            *last = Some((now, counts));
            Ok::<_, StoreError>(counts)
        };
        match tokio::time::timeout(PROBE_TIMEOUT, count).await {
            Ok(Ok(counts)) => Ok(counts),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(no_answer("counting SMS jobs")),
        }
    }
}

fn no_answer(what: &str) -> ServiceError {
    ServiceError::Unavailable(StoreError::Unavailable(
        format!("{what} got no answer within {PROBE_TIMEOUT:?}").into(),
    ))
}

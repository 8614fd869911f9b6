//! What the health checks and the metrics ask: whether the database answers, and how SMS delivery is doing.

use std::time::Duration;

use super::{ServiceError, Services};
use crate::store::{JobCounts, StoreError};

/// How long a readiness probe or a metrics scrape waits for the database. Shorter than a request may take,
/// so that a hanging database is reported as down within a probe's own timeout instead of hanging the probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

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

    /// SMS delivery jobs by state.
    pub async fn job_counts(&self) -> Result<JobCounts, ServiceError> {
        match tokio::time::timeout(PROBE_TIMEOUT, self.store.job_counts()).await {
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

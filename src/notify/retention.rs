//! Deletes settled SMS jobs once `sms.settled_job_retention_hours` have passed. Nothing reads a settled job
//! again (its outcome is on the user's events), it still holds the number it went to, and without this the
//! table grows with every SMS ever sent, and with it what `/metrics` counts on each scrape.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use tokio::sync::watch;

use crate::service::Services;
use crate::store::StoreError;

/// Time between passes. Each process runs its own; on one Postgres their passes delete different jobs, or
/// none.
const EVERY: StdDuration = StdDuration::from_secs(60);
/// Jobs one statement deletes: on SQLite a pass takes the write lock between the group-commit writer's
/// batches, so each statement holds it for a moment only.
const BATCH: i64 = 500;

pub struct JobRetention {
    services: Arc<Services>,
    batch: i64,
}

impl JobRetention {
    pub fn new(services: Arc<Services>) -> Self {
        Self {
            services,
            batch: BATCH,
        }
    }

    /// Deletes `jobs` per statement instead of `BATCH` (at least 1), so that a test sees a pass take several.
    pub fn with_batch(self, jobs: i64) -> Self {
        Self {
            batch: jobs.max(1),
            ..self
        }
    }

    /// How long a settled job is kept; None: for ever.
    pub fn kept_for(&self) -> Option<Duration> {
        match self.services.config.sms.settled_job_retention_hours {
            0 => None,
            hours => Some(Duration::hours(i64::from(hours))),
        }
    }

    /// A pass at start and then every `EVERY`, until `stop` turns true. A failed pass is tried again at the
    /// next one: nothing waits on it.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let Some(kept_for) = self.kept_for() else {
            return;
        };
        loop {
            match self.pass(kept_for, &stop).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(
                    deleted,
                    hours = kept_for.num_hours(),
                    "deleted SMS jobs settled longer ago than sms.settled_job_retention_hours"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "could not delete old settled SMS jobs; will try again")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                changed = stop.changed() => if changed.is_err() {
                    return;
                },
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    /// Deletes the jobs settled more than `kept_for` ago, a batch at a time, until a batch comes back short
    /// or `stop` turns true; returns how many went. A first run over a long history stops with the process
    /// rather than holding up its shutdown.
    pub async fn pass(
        &self,
        kept_for: Duration,
        stop: &watch::Receiver<bool>,
    ) -> Result<u64, StoreError> {
        let before = self.services.clock.now() - kept_for;
        let mut deleted = 0;
        while !*stop.borrow() {
            let batch = self
                .services
                .store
                .prune_settled_jobs(before, self.batch)
                .await?;
            deleted += batch;
            if batch < self.batch.unsigned_abs() {
                break;
            }
            // Lets the requests' writes in between two batches.
            tokio::task::yield_now().await;
        }
        Ok(deleted)
    }
}

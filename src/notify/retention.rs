//! Deletes what the SMS path leaves behind once nothing needs it: settled jobs after
//! `sms.settled_job_retention_hours`, and the daily send counts of days that are over. Nothing reads either
//! again (a job's outcome is on the user's events; a cap counts today only), both hold phone numbers, and
//! without this both tables grow with every SMS ever sent, and with them what `/metrics` counts.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use tokio::sync::watch;

use crate::domain::throttle::SmsDay;
use crate::service::Services;
use crate::store::StoreError;

/// Time between passes. Each process runs its own; on one Postgres their passes delete different rows, or
/// none.
const EVERY: StdDuration = StdDuration::from_secs(60);
/// Rows one statement deletes. Each statement is a write of its own (on SQLite, on the writer's connection
/// between its batches), and the requests' commits wait for it: a few milliseconds at this size.
const BATCH: i64 = 500;
/// The pause after a full batch, so that working through a backlog takes a small share of the writer's
/// time; it still deletes about 3,000 rows a second.
const PAUSE: StdDuration = StdDuration::from_millis(150);

pub struct Retention {
    services: Arc<Services>,
    batch: i64,
}

impl Retention {
    pub fn new(services: Arc<Services>) -> Self {
        Self {
            services,
            batch: BATCH,
        }
    }

    /// Deletes `rows` per statement instead of `BATCH` (at least 1), so that a test sees a pass take several.
    pub fn with_batch(self, rows: i64) -> Self {
        Self {
            batch: rows.max(1),
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
        loop {
            if let Some(kept_for) = self.kept_for() {
                match self.prune_jobs(kept_for, &stop).await {
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
            }
            match self.prune_daily_counts(&stop).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "deleted daily SMS counts of past days"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not delete past daily SMS counts; will try again")
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

    /// Deletes the jobs settled more than `kept_for` ago; returns how many went.
    pub async fn prune_jobs(
        &self,
        kept_for: Duration,
        stop: &watch::Receiver<bool>,
    ) -> Result<u64, StoreError> {
        let before = self.services.clock.now() - kept_for;
        let store = &self.services.store;
        self.in_batches(stop, |limit| store.prune_settled_jobs(before, limit))
            .await
    }

    /// Deletes the daily counts (per number and per organization) of days before yesterday, so that a process
    /// whose clock is a little behind still finds the count of the day it thinks it is; returns how many went.
    pub async fn prune_daily_counts(
        &self,
        stop: &watch::Receiver<bool>,
    ) -> Result<u64, StoreError> {
        let yesterday = SmsDay::of(self.services.clock.now() - Duration::days(1)).key();
        let store = &self.services.store;
        self.in_batches(stop, |limit| store.prune_daily_counts(&yesterday, limit))
            .await
    }

    /// Runs `prune` (which deletes up to its argument's rows) until it deletes fewer than a batch or `stop`
    /// turns true, and sums what went. A first pass over a long history stops with the process rather than
    /// holding up its shutdown.
    async fn in_batches<F, Fut>(
        &self,
        stop: &watch::Receiver<bool>,
        mut prune: F,
    ) -> Result<u64, StoreError>
    where
        F: FnMut(i64) -> Fut,
        Fut: Future<Output = Result<u64, StoreError>>,
    {
        let mut deleted = 0;
        while !*stop.borrow() {
            let batch = prune(self.batch).await?;
            deleted += batch;
            if batch < self.batch.unsigned_abs() {
                break;
            }
            tokio::time::sleep(PAUSE).await;
        }
        Ok(deleted)
    }
}

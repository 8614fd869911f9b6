//! The outbox worker: leases due delivery jobs and keeps up to `sms.max_concurrent_sends` of them in hand, each
//! sent and settled on its own (`delivery`). Jobs live in the database, so they survive restarts; a lease keeps
//! two processes off the same job.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use futures_util::StreamExt;
use futures_util::future::join_all;
use futures_util::stream::FuturesUnordered;
use tokio::sync::watch;

use super::SmsProvider;
use crate::service::Services;
use crate::store::{SmsJob, StoreError};

/// How long a leased job is hidden from other workers; longer than any provider call
/// (`config::MAX_SMS_TIMEOUT`).
pub(super) const LEASE: i64 = 60;
/// Upper bound on sleeping when nothing is due, so a job queued by another process is picked up.
const IDLE_POLL: StdDuration = StdDuration::from_secs(5);
/// A provider call is cut off this long after the provider's own timeout, in case it does not keep it.
const SEND_GRACE: StdDuration = StdDuration::from_secs(1);
/// Settling a job (a short write) is allowed this long within the lease.
pub(super) const SETTLE_ALLOWANCE_SECS: i64 = 2;

pub struct Worker {
    pub(super) services: Arc<Services>,
    pub(super) provider: Arc<dyn SmsProvider>,
    /// How long one provider call may take before it counts as timed out.
    pub(super) send_timeout: StdDuration,
    /// Jobs in hand at once (`sms.max_concurrent_sends`): each is sent and settled on its own, so a slow
    /// provider answer holds up one SMS, not the queue.
    concurrency: usize,
}

impl Worker {
    pub fn new(services: Arc<Services>, provider: Arc<dyn SmsProvider>) -> Self {
        let send_timeout = provider.timeout() + SEND_GRACE;
        let concurrency = usize::try_from(services.config.sms.max_concurrent_sends)
            .unwrap_or(1)
            .max(1);
        Self {
            services,
            provider,
            send_timeout,
            concurrency,
        }
    }

    /// Runs until `stop` turns true; the jobs in hand are finished first.
    ///
    /// Up to `concurrency` jobs are in hand at once. Free places are filled by claims, a few places at a time
    /// while jobs are in hand (not one claim per finished job), and at once when the queue was found full.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(
            provider = self.provider.name(),
            concurrency = self.concurrency,
            "SMS delivery worker started"
        );
        let mut in_hand = FuturesUnordered::new();
        // Whether a claim may find due jobs: not after one that found fewer than it asked for, until a new
        // job is queued here, a wait ends, or IDLE_POLL passes (jobs of other processes, retries coming due).
        let mut may_find_more = true;
        let mut stopping = false;
        loop {
            stopping |= *stop.borrow();
            if stopping && in_hand.is_empty() {
                break;
            }
            let free = self.concurrency - in_hand.len();
            let mut pause = None;
            if !stopping && may_find_more && (in_hand.is_empty() || free >= self.claim_step()) {
                match self.claim(free).await {
                    Ok(jobs) => {
                        may_find_more = jobs.len() == free;
                        in_hand.extend(jobs.into_iter().map(|job| self.handle_logged(job)));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "SMS worker could not read jobs; will retry");
                        may_find_more = false;
                        pause = Some(IDLE_POLL);
                    }
                }
            }
            if in_hand.is_empty() {
                if stopping {
                    break;
                }
                let idle = match pause {
                    Some(pause) => pause,
                    None => self.idle_wait().await,
                };
                tokio::select! {
                    _ = self.services.outbox.notified() => {}
                    _ = tokio::time::sleep(idle) => {}
                    changed = stop.changed() => stopping |= changed.is_err(),
                }
                may_find_more = true;
                continue;
            }
            tokio::select! {
                Some(()) = in_hand.next() => {}
                _ = self.services.outbox.notified(), if !stopping => may_find_more = true,
                _ = tokio::time::sleep(IDLE_POLL), if !may_find_more => may_find_more = true,
                changed = stop.changed(), if !stopping => stopping |= changed.is_err(),
            }
        }
        tracing::info!("SMS delivery worker stopped");
    }

    /// Free places worth a claim while other jobs are in hand.
    fn claim_step(&self) -> usize {
        (self.concurrency / 4).max(1)
    }

    async fn idle_wait(&self) -> StdDuration {
        let now = self.services.clock.now();
        match self.services.store.next_job_due().await {
            Ok(Some(due)) if due > now => (due - now).to_std().unwrap_or(IDLE_POLL).min(IDLE_POLL),
            Ok(Some(_)) => StdDuration::from_millis(50),
            _ => IDLE_POLL,
        }
    }

    /// Leases up to `limit` due jobs.
    async fn claim(&self, limit: usize) -> Result<Vec<SmsJob>, StoreError> {
        let now = self.services.clock.now();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.services
            .store
            .claim_jobs(now, now + Duration::seconds(LEASE), limit)
            .await
    }

    /// Leases one round of due jobs (up to `concurrency`), handles them all at once and returns how many it
    /// handled: `run`'s work without its waiting, for tests that step the worker.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let jobs = self.claim(self.concurrency).await?;
        let n = jobs.len();
        join_all(jobs.into_iter().map(|job| self.handle_logged(job))).await;
        Ok(n)
    }

    async fn handle_logged(&self, job: SmsJob) {
        if let Err(e) = self.handle(&job).await {
            // The lease runs out and another round tries again.
            tracing::warn!(job = %job.id, error = %e, "SMS job could not be settled");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_in_hand_is_sent_and_settled_within_its_lease() {
        // Every job is in hand from its claim, so the longest call plus settling must fit into the lease.
        let longest = crate::config::MAX_SMS_TIMEOUT
            + SEND_GRACE
            + StdDuration::from_secs(SETTLE_ALLOWANCE_SECS.unsigned_abs());
        assert!(longest < StdDuration::from_secs(LEASE.unsigned_abs()));
    }
}

//! One SMS job in the worker's hands: check that its code is still the one to send, send it, and record the
//! outcome (with its event) in one commit.

use chrono::{DateTime, Duration, Utc};

use super::worker::{LEASE, SETTLE_ALLOWANCE_SECS, Worker};
use super::{SendError, SmsMessage, template};
use crate::domain::ids::UserId;
use crate::domain::user::{User, UserEvent};
use crate::service::{Decision, ServiceError};
use crate::store::{JobState, JobUpdate, SmsJob};

/// Who the worker's events are attributed to.
const SYSTEM_CREATOR: &str = "SYSTEM";
/// Retry delays grow as BASE * 2^attempt, capped, with up to 25 % jitter.
const BACKOFF_BASE_SECS: i64 = 2;
const BACKOFF_CAP_SECS: i64 = 300;
/// Closing a job competes with API writes on the same user; a job left unsettled would be sent again once
/// its lease ends, so this retries longer than a request does.
const SENT_EVENT_RETRIES: usize = 20;

/// What became of one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    Retry,
    GaveUp,
    /// The code was replaced or removed before it could be sent.
    Dropped,
}

impl Worker {
    pub(super) async fn handle(&self, job: &SmsJob) -> Result<Outcome, ServiceError> {
        let s = &self.services;
        let user = s
            .store
            .user(&UserId::from_stored(job.user_id.clone()))
            .await?;
        let current = user.as_ref().is_some_and(|u| is_current(u, job));
        if !current {
            self.settle(
                job,
                JobState::Dropped,
                job.attempts,
                Some("code replaced or removed".into()),
                None,
            )
            .await?;
            s.metrics.sms_attempt(self.provider.name(), "dropped");
            return Ok(Outcome::Dropped);
        }
        let now = s.clock.now();
        if now > job.expires_at {
            tracing::warn!(job = %job.id, user = %job.user_id, "SMS given up: the code expired before it was delivered");
            return self
                .give_up(job, job.attempts, "expired", "code expired".into())
                .await;
        }
        // A send must end, and be recorded, while the lease holds; otherwise another worker may take the job
        // meanwhile and send it too. Left alone, the job is taken again once the lease is over.
        let send_budget = Duration::from_std(self.send_timeout).unwrap_or(Duration::seconds(LEASE))
            + Duration::seconds(SETTLE_ALLOWANCE_SECS);
        if now + send_budget >= job.lease_until {
            tracing::info!(job = %job.id, "SMS job left for the next round: too little of its lease is left");
            return Ok(Outcome::Retry);
        }
        let code = match s.cipher.open(&job.encrypted_code) {
            Ok(code) => code,
            Err(e) => {
                tracing::error!(job = %job.id, error = %e, "SMS job cannot be decrypted; giving up");
                return self
                    .give_up(job, job.attempts, "unreadable", "unreadable".into())
                    .await;
            }
        };
        let expiry = job.expires_at - job.created_at;
        let minutes = expiry.num_minutes().max(1);
        let message = SmsMessage {
            to: job.phone.clone(),
            text: template::render(
                &s.config.sms.template,
                &job.language,
                code.expose(),
                minutes,
            ),
            code,
            user_id: job.user_id.clone(),
            language: job.language.clone(),
            expiry,
            event_type: "user.human.phone.code.added",
        };
        let result =
            match tokio::time::timeout(self.send_timeout, self.provider.send(&message)).await {
                Ok(r) => r,
                Err(_) => Err(SendError::Timeout),
            };
        let attempts = job.attempts + 1;
        match result {
            Ok(()) => {
                let event = UserEvent::PhoneCodeSent {
                    code_sequence: job.code_sequence,
                };
                self.settle(job, JobState::Sent, attempts, None, Some(event))
                    .await?;
                s.metrics.sms_attempt(self.provider.name(), "sent");
                s.metrics.sms_delivered_after(
                    (s.clock.now() - job.created_at)
                        .to_std()
                        .unwrap_or_default(),
                );
                Ok(Outcome::Sent)
            }
            Err(e) if attempts >= i64::from(s.config.sms.max_attempts) => {
                s.metrics.sms_attempt(self.provider.name(), "failed");
                tracing::warn!(job = %job.id, user = %job.user_id, error = %e, attempts, "SMS given up after its last attempt");
                self.give_up(job, attempts, "provider failed", e.to_string())
                    .await
            }
            Err(e) => {
                // Not past the code's expiry: a code that dies while waiting is given up when it dies.
                s.metrics.sms_attempt(self.provider.name(), "failed");
                let next = (now + backoff(attempts)).min(job.expires_at + Duration::seconds(1));
                tracing::info!(job = %job.id, error = %e, attempts, next = %next, "SMS send failed; will retry");
                self.record(self.job_update(
                    job,
                    JobState::Pending,
                    attempts,
                    Some(e.to_string()),
                    next,
                ))
                .await?;
                Ok(Outcome::Retry)
            }
        }
    }

    /// Closes the job as failed and tells the user's aggregate, so nobody waits for this code in vain.
    async fn give_up(
        &self,
        job: &SmsJob,
        attempts: i64,
        reason: &str,
        error: String,
    ) -> Result<Outcome, ServiceError> {
        let event = UserEvent::PhoneCodeDeliveryFailed {
            code_sequence: job.code_sequence,
            reason: reason.into(),
        };
        self.settle(job, JobState::Failed, attempts, Some(error), Some(event))
            .await?;
        Ok(Outcome::GaveUp)
    }

    /// Writes the job's new state alone (no event goes with it).
    async fn record(&self, update: JobUpdate) -> Result<(), ServiceError> {
        let update = &update;
        self.services
            .execute(SYSTEM_CREATOR, move || async move {
                Ok(Decision::answer(()).update_job(update.clone()))
            })
            .await
            .map(|_| ())
    }

    fn job_update(
        &self,
        job: &SmsJob,
        state: JobState,
        attempts: i64,
        error: Option<String>,
        next: DateTime<Utc>,
    ) -> JobUpdate {
        JobUpdate {
            id: job.id.clone(),
            lease_until: job.lease_until,
            state,
            attempts,
            next_attempt_at: next,
            last_error: error,
            updated_at: self.services.clock.now(),
        }
    }

    /// Closes the job and appends its event to the user in one commit, deciding again if the user moved on.
    async fn settle(
        &self,
        job: &SmsJob,
        state: JobState,
        attempts: i64,
        error: Option<String>,
        event: Option<UserEvent>,
    ) -> Result<(), ServiceError> {
        let s = &self.services;
        let Some(event) = event else {
            let now = s.clock.now();
            return self
                .record(self.job_update(job, state, attempts, error, now))
                .await;
        };
        let user_id = &UserId::from_stored(job.user_id.clone());
        let (error, event) = (&error, &event);
        let _turn = s.user_gate.turn(user_id).await;
        let result = s
            .execute_with_retries(SENT_EVENT_RETRIES, SYSTEM_CREATOR, move || async move {
                let update = self.job_update(job, state, attempts, error.clone(), s.clock.now());
                Ok(match s.store.user(user_id).await? {
                    Some(user) => Decision::on_user(&user, vec![event.clone()], ()),
                    None => Decision::answer(()),
                }
                .update_job(update))
            })
            .await;
        if let Err(ServiceError::JobLeaseLost) = &result {
            tracing::warn!(job = %job.id, "SMS job lease ran out before it was settled; another worker has it");
        }
        result.map(|_| ())
    }
}

/// The job still delivers the user's current code to the user's current number.
fn is_current(user: &User, job: &SmsJob) -> bool {
    user.live_human().is_ok()
        && user.phone().is_some_and(|p| {
            p.number.as_str() == job.phone
                && p.code
                    .as_ref()
                    .is_some_and(|c| c.sequence == job.code_sequence)
        })
}

fn backoff(attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    let base = BACKOFF_BASE_SECS
        .saturating_mul(1 << exp)
        .min(BACKOFF_CAP_SECS);
    let jitter_ms = rand::random_range(0..=base * 250);
    Duration::seconds(base) + Duration::milliseconds(jitter_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let first = backoff(1);
        assert!(first >= Duration::seconds(4) && first <= Duration::seconds(5));
        let late = backoff(12);
        assert!(late >= Duration::seconds(300) && late <= Duration::seconds(375));
    }
}

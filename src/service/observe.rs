//! What the write path tells the metrics: the codes a commit issued, verified or gave up, and the sends a
//! throttle refused. Counted only once a commit is durable (or a refusal final), so a conflict that makes a
//! command decide again is not counted twice.

use chrono::{DateTime, Utc};

use super::write::Decision;
use super::{ServiceError, Services};
use crate::domain::DomainError;
use crate::domain::aggregate::{AggregateRef, DomainEvent};
use crate::domain::projection::Rows;
use crate::domain::user::UserEvent;
use crate::metrics::CodeOutcome;

impl Services {
    /// `rows`: the rows as the commit left them.
    pub(super) fn count_codes<T>(
        &self,
        decision: &Decision<T>,
        rows: &Rows,
        committed_at: DateTime<Utc>,
    ) {
        for change in decision.changes() {
            let AggregateRef::User { id, .. } = &change.aggregate else {
                continue;
            };
            for event in &change.events {
                let DomainEvent::User(event) = event else {
                    continue;
                };
                let outcome = match event {
                    UserEvent::PhoneCodeAdded(added) if added.code_returned => {
                        CodeOutcome::IssuedReturned
                    }
                    UserEvent::PhoneCodeAdded(_) => CodeOutcome::IssuedBySms,
                    UserEvent::PhoneVerified => CodeOutcome::Verified,
                    UserEvent::PhoneVerificationFailed => {
                        // The code as it was when the guess was decided on.
                        let expired = decision
                            .seed()
                            .users
                            .get(id)
                            .and_then(|u| u.phone())
                            .and_then(|p| p.code.as_ref())
                            .is_some_and(|c| c.expires_at < committed_at);
                        if expired {
                            CodeOutcome::VerifyExpired
                        } else {
                            CodeOutcome::VerifyFailed
                        }
                    }
                    UserEvent::PhoneCodeDeliveryFailed { .. } => CodeOutcome::Undeliverable,
                    _ => continue,
                };
                self.metrics.code(outcome);
                if matches!(outcome, CodeOutcome::IssuedBySms | CodeOutcome::Verified) {
                    let number = rows
                        .users
                        .get(id)
                        .and_then(|u| u.phone())
                        .map(|p| &p.number);
                    let policy = &self.config.limits.policy;
                    if let Some(code) = number.and_then(|n| policy.calling_code(n)) {
                        let label = if outcome == CodeOutcome::Verified {
                            "verified"
                        } else {
                            "sms_issued"
                        };
                        self.metrics.by_calling_code(code, label);
                    }
                }
            }
        }
    }

    pub(super) fn count_refusal(&self, error: &ServiceError) {
        match error {
            ServiceError::Domain(DomainError::ResendTooSoon { .. }) => {
                self.metrics.throttled("cooldown");
            }
            ServiceError::DailyCapReached { .. } => self.metrics.throttled("daily_cap"),
            ServiceError::OrgBudgetSpent { .. } => self.metrics.throttled("org_budget"),
            ServiceError::Domain(DomainError::PhoneRegionNotAllowed) => {
                self.metrics.throttled("region");
            }
            ServiceError::Domain(DomainError::PhoneTypeNotAllowed) => {
                self.metrics.throttled("number_type");
            }
            _ => {}
        }
    }
}

//! The one write path. A command decides on state it loads (`Decision`); `Services::execute` projects the
//! decided events onto the rows they change (with the same function a rebuild uses), writes events, rows and
//! outbox in one commit, and on a concurrent write to the same aggregate runs the command again on fresh
//! state. Callers never build a `Commit` themselves, so the commit can be handed to a batching writer later
//! without touching them.

use chrono::{DateTime, Utc};

use super::{Result, ServiceError, Services};
use crate::domain::DomainError;
use crate::domain::aggregate::{AggregateRef, DomainEvent};
use crate::domain::code::PlainCode;
use crate::domain::events::{EventMeta, NewEvent};
use crate::domain::ids::{OrgId, UserId};
use crate::domain::org::Org;
use crate::domain::projection::Rows;
use crate::domain::throttle::SmsDay;
use crate::domain::user::{User, UserEvent};
use crate::store::{Commit, JobUpdate, StoreError};

/// How often a command is decided again after another writer got to the same aggregate first.
pub(crate) const CONFLICT_RETRIES: usize = 12;

/// Events for one aggregate, decided on the state it had at `base_sequence` (0: it is new).
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub aggregate: AggregateRef,
    pub base_sequence: i64,
    pub events: Vec<DomainEvent>,
}

/// What a command decided: the changes to write, what else goes into the same commit, and the answer.
pub(crate) struct Decision<T> {
    changes: Vec<Change>,
    /// The rows as loaded, which the new events fold onto.
    seed: Rows,
    /// A code to queue for delivery to this user's current number.
    sms: Option<(UserId, PlainCode)>,
    job_updates: Vec<JobUpdate>,
    /// Returned once the changes are written: a refusal that still records events (a wrong code) is an `Err`.
    outcome: std::result::Result<T, DomainError>,
}

impl<T> Decision<T> {
    /// Nothing to write: just an answer.
    pub fn answer(value: T) -> Self {
        Self {
            changes: Vec::new(),
            seed: Rows::default(),
            sms: None,
            job_updates: Vec::new(),
            outcome: Ok(value),
        }
    }

    /// Events on a user as loaded.
    pub fn on_user(user: &User, events: Vec<UserEvent>, value: T) -> Self {
        let mut decision = Self::answer(value);
        decision.seed.seed_user(user.clone());
        decision.changes.push(Change {
            aggregate: AggregateRef::User {
                id: user.id.clone(),
                org: user.org_id.clone(),
            },
            base_sequence: user.sequence,
            events: events.into_iter().map(DomainEvent::from).collect(),
        });
        decision
    }

    /// The first events of a user that does not exist yet.
    pub fn new_user(id: &UserId, org: &OrgId, events: Vec<UserEvent>, value: T) -> Self {
        Self::answer(value).and(Change {
            aggregate: AggregateRef::User {
                id: id.clone(),
                org: org.clone(),
            },
            base_sequence: 0,
            events: events.into_iter().map(DomainEvent::from).collect(),
        })
    }

    /// Events on an org as loaded (None: a new org).
    pub fn on_org(id: &OrgId, org: Option<&Org>, events: Vec<DomainEvent>, value: T) -> Self {
        let mut decision = Self::answer(value);
        if let Some(org) = org {
            decision.seed.seed_org(org.clone());
        }
        decision.and(Change {
            aggregate: AggregateRef::Org(id.clone()),
            base_sequence: org.map_or(0, |o| o.sequence),
            events,
        })
    }

    /// One more aggregate's events in the same commit.
    pub fn and(mut self, change: Change) -> Self {
        self.changes.push(change);
        self
    }

    /// Queue `code` for SMS delivery to `user`'s number, with the events that announce it.
    pub fn send_sms(mut self, user: &UserId, code: PlainCode) -> Self {
        self.sms = Some((user.clone(), code));
        self
    }

    pub fn update_job(mut self, update: JobUpdate) -> Self {
        self.job_updates.push(update);
        self
    }

    /// The events are written, but the command answers with `refusal`.
    pub fn refused(mut self, refusal: std::result::Result<(), DomainError>) -> Self {
        if let Err(e) = refusal {
            self.outcome = Err(e);
        }
        self
    }

    /// The events decided, by aggregate.
    pub(super) fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// The rows the events were decided on.
    pub(super) fn seed(&self) -> &Rows {
        &self.seed
    }

    fn writes_nothing(&self) -> bool {
        self.job_updates.is_empty() && self.changes.iter().all(|c| c.events.is_empty())
    }
}

/// A command's written outcome: every row its events touched, as they are now, and its answer.
#[derive(Debug)]
pub(crate) struct Committed<T> {
    pub rows: Rows,
    pub at: DateTime<Utc>,
    pub value: T,
}

impl<T> Committed<T> {
    pub fn user(&self, id: &UserId) -> Result<User> {
        self.rows
            .users
            .get(id)
            .cloned()
            .ok_or_else(|| ServiceError::internal("a written user is missing from its rows"))
    }

    pub fn org(&self, id: &OrgId) -> Result<Org> {
        self.rows
            .orgs
            .get(id)
            .cloned()
            .ok_or_else(|| ServiceError::internal("a written org is missing from its rows"))
    }
}

impl Services {
    /// Decides, projects and commits; decides again on fresh state after a conflict.
    pub(crate) async fn execute<T, Fut>(
        &self,
        creator: &str,
        decide: impl FnMut() -> Fut,
    ) -> Result<Committed<T>>
    where
        Fut: Future<Output = Result<Decision<T>>>,
    {
        self.execute_with_retries(CONFLICT_RETRIES, creator, decide)
            .await
    }

    pub(crate) async fn execute_with_retries<T, Fut>(
        &self,
        retries: usize,
        creator: &str,
        mut decide: impl FnMut() -> Fut,
    ) -> Result<Committed<T>>
    where
        Fut: Future<Output = Result<Decision<T>>>,
    {
        for attempt in 0..retries {
            let decision = match decide().await {
                Ok(decision) => decision,
                Err(e) => {
                    self.count_refusal(&e);
                    return Err(e);
                }
            };
            let now = self.clock.now();
            if decision.writes_nothing() {
                return Ok(Committed {
                    rows: decision.seed,
                    at: now,
                    value: decision.outcome?,
                });
            }
            if decision.sms.is_some() {
                self.sms_available()?;
            }
            let (commit, rows) = match self.prepare(&decision, creator, now) {
                Ok(prepared) => prepared,
                Err(e) => {
                    self.count_refusal(&e);
                    return Err(e);
                }
            };
            match self.store.commit(commit).await {
                Ok(()) => {
                    if decision.sms.is_some() {
                        self.outbox.notify_one();
                    }
                    self.count_codes(&decision, &rows, now);
                    return Ok(Committed {
                        rows,
                        at: now,
                        value: decision.outcome?,
                    });
                }
                Err(StoreError::Conflict) => pause_after_conflict(attempt).await,
                Err(StoreError::QuotaExceeded) => {
                    let e = ServiceError::DailyCapReached {
                        retry_after_secs: SmsDay::of(now).seconds_left(now),
                    };
                    self.count_refusal(&e);
                    return Err(e);
                }
                Err(StoreError::OrgQuotaExceeded) => {
                    let e = ServiceError::OrgBudgetSpent {
                        retry_after_secs: SmsDay::of(now).seconds_left(now),
                    };
                    self.count_refusal(&e);
                    return Err(e);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Aborted)
    }

    /// The write path for a command on one existing user: the first round may decide on `loaded` (the state
    /// the caller's checks read), later rounds reload it; `org`, if given, must be the user's.
    pub(crate) async fn execute_on_user<T>(
        &self,
        caller: &str,
        user_id: &UserId,
        org: Option<&OrgId>,
        loaded: Option<User>,
        decide: impl Fn(&User) -> Result<Decision<T>>,
    ) -> Result<(User, T)> {
        let turn = self.user_gate.turn(user_id).await;
        // After a wait the caller's state is likely stale: deciding on it would only lose the commit.
        let mut loaded = if turn.waited { None } else { loaded };
        let decide = &decide;
        let committed = self
            .execute(caller, move || {
                let first = loaded.take();
                async move {
                    let user = match (first, org) {
                        (Some(user), _) => user,
                        (None, Some(org)) => self.user_in(user_id, org).await?,
                        (None, None) => self.load_user(user_id.as_str()).await?,
                    };
                    decide(&user)
                }
            })
            .await?;
        Ok((committed.user(user_id)?, committed.value))
    }

    /// The commit that writes `decision`, and the rows as it leaves them.
    fn prepare<T>(
        &self,
        decision: &Decision<T>,
        creator: &str,
        now: DateTime<Utc>,
    ) -> Result<(Commit, Rows)> {
        let mut rows = decision.seed.clone();
        let mut events = Vec::new();
        for change in &decision.changes {
            for (sequence, event) in (change.base_sequence + 1..).zip(&change.events) {
                let meta = EventMeta {
                    sequence,
                    created_at: now,
                };
                rows.project(&change.aggregate, event, meta);
                events.push(envelope(&change.aggregate, meta, event, creator)?);
            }
        }
        let mut commit = Commit {
            events,
            users: rows.users.values().cloned().collect(),
            orgs: rows.orgs.values().cloned().collect(),
            memberships: rows.memberships.values().cloned().collect(),
            instance: rows.instance.clone(),
            job_updates: decision.job_updates.clone(),
            ..Commit::default()
        };
        for (token_id, record) in &rows.pats {
            match record {
                Some(record) => commit.pats_added.push(record.clone()),
                None => commit.pats_removed.push(token_id.clone()),
            }
        }
        if let Some((user_id, code)) = &decision.sms {
            let user = rows
                .users
                .get(user_id)
                .ok_or_else(|| ServiceError::internal("an SMS for a user the commit lacks"))?;
            self.queue_sms(&mut commit, user, code, now)?;
        }
        Ok((commit, rows))
    }
}

fn envelope(
    aggregate: &AggregateRef,
    meta: EventMeta,
    event: &DomainEvent,
    creator: &str,
) -> Result<NewEvent> {
    let (event_type, payload) = event.encode().map_err(ServiceError::internal_from)?;
    Ok(NewEvent {
        aggregate_type: aggregate.type_name(),
        aggregate_id: aggregate.id().to_owned(),
        sequence: meta.sequence,
        event_type,
        payload,
        resource_owner: aggregate.resource_owner().to_owned(),
        creator: creator.to_owned(),
        created_at: meta.created_at,
    })
}

/// A short random pause before deciding again after a conflict, growing with each attempt (up to 256 ms), so
/// that writers racing for the same aggregate do not collide again in lockstep, and so that a competing commit
/// still waiting in the writer's queue has landed before the state is read again.
async fn pause_after_conflict(attempt: usize) {
    let ceiling_ms = 1u64 << attempt.min(8);
    tokio::time::sleep(std::time::Duration::from_millis(rand::random_range(
        0..=ceiling_ms,
    )))
    .await;
}

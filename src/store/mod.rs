//! Persistence behind one narrow trait in domain terms, implemented once for SQLite and Postgres: both run
//! the same SQL (`queries`) through the generic `SqlStore` (`sql_store`). Commits go through one writer per
//! process (`writer`, `writes`), which writes those of concurrent requests together (group commit).

mod error;
mod key_lookups;
mod pg_batch;
mod pg_batch_sql;
mod pg_connections;
mod pg_lookups;
mod postgres;
mod queries;
mod rows;
mod sql_store;
mod sqlite;
mod sqlite_local;
mod statements;
mod writer;
mod writes;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::events::{NewEvent, StoredEvent};
use crate::domain::ids::{OrgId, UserId};
use crate::domain::org::{Membership, Org};
pub use crate::domain::projection::{InstanceInfo, PatRecord, Projections};
use crate::domain::user::User;

pub use error::{BoxError, CorruptRow, StoreError};

/// A window on one aggregate's history: the events after `from` oldest first, or (newest first) the events
/// before `from`, where a `from` of 0 means "from the newest".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPage {
    pub from: i64,
    pub limit: i64,
    pub oldest_first: bool,
}
pub use postgres::PgStore;
pub use sql_store::{Backend, SqlStore};
pub use sqlite::{SqliteStore, database_file as sqlite_database_file};

/// A delivery job to write with the event that announces its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSmsJob {
    pub id: String,
    pub user_id: String,
    pub code_sequence: i64,
    pub phone: String,
    /// The code, encrypted with the job key: it must be readable to be sent, but never in clear at rest.
    pub encrypted_code: String,
    pub language: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// A queued job as a worker holds it: what was queued, and how its delivery is going.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsJob {
    pub queued: NewSmsJob,
    /// Attempts made before this one.
    pub attempts: i64,
    /// Until when this worker holds the job; updates must show it (fencing against a worker that overran).
    pub lease_until: DateTime<Utc>,
}

/// A held job reads as what was queued (`job.phone`, `job.expires_at`, ...).
impl std::ops::Deref for SmsJob {
    type Target = NewSmsJob;

    fn deref(&self) -> &NewSmsJob {
        &self.queued
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Pending,
    Sent,
    Failed,
    Dropped,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Sent => "sent",
            JobState::Failed => "failed",
            JobState::Dropped => "dropped",
        }
    }
}

/// What the worker decided about a job it held.
#[derive(Debug, Clone)]
pub struct JobUpdate {
    pub id: String,
    /// The lease the update is made under: the update applies only while the job still carries it.
    pub lease_until: DateTime<Utc>,
    pub state: JobState,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
    pub dropped: i64,
}

/// Everything one command writes, applied in one transaction or not at all.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    pub events: Vec<NewEvent>,
    pub users: Vec<User>,
    pub orgs: Vec<Org>,
    pub memberships: Vec<Membership>,
    pub instance: Option<InstanceInfo>,
    pub jobs: Vec<NewSmsJob>,
    pub job_updates: Vec<JobUpdate>,
    pub pats_added: Vec<PatRecord>,
    pub pats_removed: Vec<String>,
    /// Counts one SMS against a number's daily cap; the whole commit fails with `QuotaExceeded` at the cap.
    pub sms_quota: Option<SmsQuota>,
    /// Counts one SMS against an organization's daily budget; the whole commit fails with
    /// `OrgQuotaExceeded` when it is spent.
    pub org_sms_quota: Option<OrgSmsQuota>,
}

impl Commit {
    /// Whether the commit has nothing to write (the empty commit that makes the writer run a batch).
    pub fn writes_nothing(&self) -> bool {
        // Destructured, so that a field added to `Commit` must be considered here.
        let Commit {
            events,
            users,
            orgs,
            memberships,
            instance,
            jobs,
            job_updates,
            pats_added,
            pats_removed,
            sms_quota,
            org_sms_quota,
        } = self;
        events.is_empty()
            && users.is_empty()
            && orgs.is_empty()
            && memberships.is_empty()
            && instance.is_none()
            && jobs.is_empty()
            && job_updates.is_empty()
            && pats_added.is_empty()
            && pats_removed.is_empty()
            && sms_quota.is_none()
            && org_sms_quota.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct OrgSmsQuota {
    pub org_id: String,
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    pub limit: i64,
}

#[derive(Debug, Clone)]
pub struct SmsQuota {
    pub phone: String,
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    pub limit: i64,
}

/// A caller with its memberships (None: no such user), and another user (None: no such user).
pub type CallerAndUser = (Option<(User, Vec<Membership>)>, Option<User>);

#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> Result<(), StoreError>;
    async fn instance(&self) -> Result<Option<InstanceInfo>, StoreError>;
    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError>;
    /// A user and its memberships, read together: what authenticating a caller needs.
    async fn user_with_memberships(
        &self,
        id: &UserId,
    ) -> Result<Option<(User, Vec<Membership>)>, StoreError>;
    /// A caller with its memberships and another user the request names, in one read where the backend can
    /// (Postgres: one round trip instead of two).
    async fn caller_and_user(
        &self,
        caller: &UserId,
        named: &UserId,
    ) -> Result<CallerAndUser, StoreError>;
    /// True when a user that was not removed has this username (case-insensitive).
    async fn username_taken(&self, username: &str) -> Result<bool, StoreError>;
    async fn org(&self, id: &OrgId) -> Result<Option<Org>, StoreError>;
    async fn org_name_taken(&self, name: &str) -> Result<bool, StoreError>;
    async fn memberships(&self, user_id: &UserId) -> Result<Vec<Membership>, StoreError>;
    /// The instance-wide (IAM) memberships of users that are active: who can still administer the instance.
    async fn active_instance_members(&self) -> Result<Vec<Membership>, StoreError>;
    /// A personal access token that was added and not removed.
    async fn pat(&self, token_id: &str) -> Result<Option<PatRecord>, StoreError>;
    /// Appends the events and updates projections and outbox in one transaction.
    /// A (aggregate, sequence) or unique-name collision is `Conflict` and writes nothing.
    async fn commit(&self, commit: Commit) -> Result<(), StoreError>;
    /// Returns the stored secret `name`, storing `candidate` first if there is none (first writer wins).
    async fn secret(
        &self,
        name: &str,
        candidate: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError>;
    /// The secrets whose name starts with `prefix`: (name, value, when stored).
    async fn secrets_named_like(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, String, DateTime<Utc>)>, StoreError>;
    /// Sets secret `name` to `new` if it still holds `old` (else leaves it: another process got there first).
    async fn replace_secret(&self, name: &str, old: &str, new: &str) -> Result<(), StoreError>;
    async fn events(&self, aggregate_id: &str) -> Result<Vec<StoredEvent>, StoreError>;
    /// Connections of the pool now, and how many of them are idle.
    fn pool_state(&self) -> crate::metrics::PoolState;
    /// The sizes of the batches the group-commit writer wrote, for the metrics.
    fn commit_batch_sizes(&self) -> Option<prometheus_client::metrics::histogram::Histogram>;
    /// At most `page.limit` of the aggregate's events beyond `page.from` (exclusive) in `page`'s direction.
    async fn events_page(
        &self,
        aggregate_id: &str,
        page: EventPage,
    ) -> Result<Vec<StoredEvent>, StoreError>;
    /// The sequence of the aggregate's last event (0 when it has none).
    async fn last_sequence(&self, aggregate_id: &str) -> Result<i64, StoreError>;
    /// Leases up to `limit` due pending jobs until `lease_until`; a job leased by one worker is invisible to
    /// the others until the lease ends, so two processes never hold the same job at once.
    async fn claim_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<SmsJob>, StoreError>;
    async fn job_counts(&self) -> Result<JobCounts, StoreError>;
    /// Deletes up to `limit` jobs that were settled (sent, failed, dropped) before `before`; returns how many.
    async fn prune_settled_jobs(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> Result<u64, StoreError>;
    /// Deletes up to `limit` per-number and up to `limit` per-organization daily SMS counts of days before
    /// `before_day` (`YYYY-MM-DD`); returns how many went in all.
    async fn prune_daily_counts(&self, before_day: &str, limit: i64) -> Result<u64, StoreError>;
    /// Every projection as stored now (users, orgs, memberships, instance), sorted.
    async fn projections(&self) -> Result<Projections, StoreError>;
    /// Rebuilds every projection from the event log in one transaction that keeps writers out, so it is safe
    /// while servers run. Returns the number of events read.
    async fn rebuild_projections(&self, fold: &RebuildFold) -> Result<usize, StoreError>;
    /// When the next pending job is due, if any.
    async fn next_job_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;
    async fn close(&self);
}

/// Turns the whole event log (in position order) into projections.
pub type RebuildFold = dyn Fn(&[StoredEvent]) -> Result<Projections, String> + Send + Sync;

/// Picks the backend from the URL scheme and applies its migrations.
pub async fn connect(
    url: &str,
    max_connections: u32,
    acquire_timeout: std::time::Duration,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(
            PgStore::connect(url, max_connections, acquire_timeout).await?,
        ))
    } else {
        Ok(std::sync::Arc::new(
            SqliteStore::connect(url, max_connections, acquire_timeout).await?,
        ))
    }
}

//! The `Store` both backends share: one generic implementation over a sqlx database, so that SQLite and
//! Postgres run the same statements from `queries` and differ only where `Backend` says.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Pool, Type};

use super::key_lookups::KeyLookups;
use super::rows::{
    EventRow, InstanceRow, JobRow, MembershipRow, OrgRow, PatRow, UserMembershipRow, UserRow,
    from_micros, job_counts, micros,
};
use super::sqlite_local::LocalSqlite;
use super::statements::{Param, Statement, projection_statements};
use super::writer::Writer;
use super::{
    CallerAndUser, Commit, EventPage, InstanceInfo, JobCounts, PatRecord, Projections, RebuildFold,
    SmsJob, Store, StoreError, queries,
};
use crate::domain::events::{INSTANCE_ID, StoredEvent};
use crate::domain::ids::{OrgId, UserId};
use crate::domain::org::{Membership, Org, Scope};
use crate::domain::user::{User, UserState};

/// What differs between the databases the store runs on.
pub trait Backend: sqlx::Database {
    /// The name `Store::backend` reports.
    const BACKEND: &'static str;
    /// Opens a transaction that writes.
    const BEGIN_WRITE: &'static str;
    /// Leases due jobs: `CLAIM_JOBS_*` in `queries`.
    const CLAIM_JOBS: &'static str;
    /// Run first in a rebuild to keep appends out, where `BEGIN_WRITE` does not already.
    const LOCK_EVENTS: Option<&'static str>;

    fn rows_affected(result: &Self::QueryResult) -> u64;
}

/// A `Store` on the database `DB`.
pub struct SqlStore<DB: Backend> {
    pub(super) pool: Pool<DB>,
    /// Connections for job claims, so a claim never queues behind readers (SQLite with `local`: the readers'
    /// pool, as every write goes through `local`'s write connection; Postgres batches: `pg_connections`).
    pub(super) write_pool: Pool<DB>,
    pub(super) writer: Writer,
    /// SQLite's hot paths in process (`sqlite_local`); None on Postgres and for an in-memory SQLite database.
    pub(super) local: Option<std::sync::Arc<LocalSqlite>>,
    /// The lookups by key, where the backend has a faster way than `pool` (`key_lookups`).
    pub(super) lookups: Option<std::sync::Arc<dyn KeyLookups>>,
}

#[async_trait]
impl<DB> Store for SqlStore<DB>
where
    DB: Backend,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (Option<i64>,): FromRow<'r, DB::Row>,
    for<'r> (String,): FromRow<'r, DB::Row>,
    for<'r> (String, i64): FromRow<'r, DB::Row>,
    for<'r> (String, String, i64): FromRow<'r, DB::Row>,
    for<'r> UserRow: FromRow<'r, DB::Row>,
    for<'r> OrgRow: FromRow<'r, DB::Row>,
    for<'r> MembershipRow: FromRow<'r, DB::Row>,
    for<'r> UserMembershipRow: FromRow<'r, DB::Row>,
    for<'r> PatRow: FromRow<'r, DB::Row>,
    for<'r> InstanceRow: FromRow<'r, DB::Row>,
    for<'r> EventRow: FromRow<'r, DB::Row>,
    for<'r> JobRow: FromRow<'r, DB::Row>,
{
    fn backend(&self) -> &'static str {
        DB::BACKEND
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query(queries::PING).execute(&self.pool).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn instance(&self) -> Result<Option<InstanceInfo>, StoreError> {
        let row: Option<InstanceRow> = sqlx::query_as(queries::SELECT_INSTANCE)
            .bind(INSTANCE_ID)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Into::into))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %id))]
    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        if let Some(lookups) = &self.lookups {
            return lookups.user(id).await;
        }
        let row: Option<UserRow> = sqlx::query_as(queries::SELECT_USER)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(UserRow::into_user).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %id))]
    async fn user_with_memberships(
        &self,
        id: &UserId,
    ) -> Result<Option<(User, Vec<Membership>)>, StoreError> {
        if let Some(lookups) = &self.lookups {
            return lookups.user_with_memberships(id).await;
        }
        let rows: Vec<UserMembershipRow> = sqlx::query_as(queries::SELECT_USER_WITH_MEMBERSHIPS)
            .bind(id.as_str())
            .fetch_all(&self.pool)
            .await?;
        UserMembershipRow::fold(rows)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %caller))]
    async fn caller_and_user(
        &self,
        caller: &UserId,
        named: &UserId,
    ) -> Result<CallerAndUser, StoreError> {
        if let Some(lookups) = &self.lookups {
            return lookups.caller_and_user(caller, named).await;
        }
        Ok((
            self.user_with_memberships(caller).await?,
            self.user(named).await?,
        ))
    }

    // The username is left out of the span: it may be an email address or a phone number.
    #[tracing::instrument(level = "debug", skip_all)]
    async fn username_taken(&self, username: &str) -> Result<bool, StoreError> {
        let (n,): (i64,) = sqlx::query_as(queries::COUNT_USERNAME)
            .bind(username)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(org_id = %id))]
    async fn org(&self, id: &OrgId) -> Result<Option<Org>, StoreError> {
        if let Some(lookups) = &self.lookups {
            return lookups.org(id).await;
        }
        let row: Option<OrgRow> = sqlx::query_as(queries::SELECT_ORG)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(OrgRow::into_org).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn org_name_taken(&self, name: &str) -> Result<bool, StoreError> {
        let (n,): (i64,) = sqlx::query_as(queries::COUNT_ORG_NAME)
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    async fn memberships(&self, user_id: &UserId) -> Result<Vec<Membership>, StoreError> {
        if let Some(lookups) = &self.lookups {
            return lookups.memberships(user_id).await;
        }
        let rows: Vec<MembershipRow> = sqlx::query_as(queries::SELECT_MEMBERSHIPS_OF_USER)
            .bind(user_id.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(MembershipRow::into_membership)
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn active_instance_members(&self) -> Result<Vec<Membership>, StoreError> {
        let rows: Vec<MembershipRow> = sqlx::query_as(queries::SELECT_ACTIVE_MEMBERSHIPS_IN_SCOPE)
            .bind(Scope::Iam.key())
            .bind(UserState::Active.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(MembershipRow::into_membership)
            .collect()
    }

    // The token id is left out of the span, as everything about a credential is.
    #[tracing::instrument(level = "debug", skip_all)]
    async fn pat(&self, token_id: &str) -> Result<Option<PatRecord>, StoreError> {
        if let Some(lookups) = &self.lookups {
            return lookups.pat(token_id).await;
        }
        let row: Option<PatRow> = sqlx::query_as(queries::SELECT_PAT)
            .bind(token_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(PatRow::into_pat).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(
        events = commit.events.len(),
        users = commit.users.len(),
        jobs = commit.jobs.len(),
        job_updates = commit.job_updates.len(),
    ))]
    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        self.writer.commit(commit).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = name))]
    async fn secret(
        &self,
        name: &str,
        candidate: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        sqlx::query(queries::INSERT_SECRET)
            .bind(name)
            .bind(candidate)
            .bind(micros(now))
            .execute(&self.pool)
            .await?;
        let (value,): (String,) = sqlx::query_as(queries::SELECT_SECRET)
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(value)
    }

    async fn secrets_named_like(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, String, DateTime<Utc>)>, StoreError> {
        let pattern = format!("{prefix}%");
        let rows: Vec<(String, String, i64)> = sqlx::query_as(queries::SECRETS_LIKE)
            .bind(pattern.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|(name, value, at)| {
                Ok((
                    name,
                    value,
                    super::rows::from_micros(at, "secrets.created_at")?,
                ))
            })
            .collect()
    }

    async fn replace_secret(&self, name: &str, old: &str, new: &str) -> Result<(), StoreError> {
        sqlx::query(queries::REPLACE_SECRET)
            .bind(name)
            .bind(old)
            .bind(new)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(aggregate_id = aggregate_id))]
    async fn events(&self, aggregate_id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(queries::SELECT_EVENTS_OF_AGGREGATE)
            .bind(aggregate_id)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(EventRow::into_event).collect()
    }

    fn pool_state(&self) -> crate::metrics::PoolState {
        crate::metrics::PoolState {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
        }
    }

    fn commit_batch_sizes(&self) -> Option<prometheus_client::metrics::histogram::Histogram> {
        Some(self.writer.batch_sizes.clone())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(aggregate_id = aggregate_id))]
    async fn events_page(
        &self,
        aggregate_id: &str,
        page: EventPage,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let (query, from) = match (page.oldest_first, page.from) {
            (true, from) => (queries::SELECT_EVENTS_AFTER, from),
            (false, 0) => (queries::SELECT_EVENTS_BEFORE, i64::MAX),
            (false, from) => (queries::SELECT_EVENTS_BEFORE, from),
        };
        let rows: Vec<EventRow> = sqlx::query_as(query)
            .bind(aggregate_id)
            .bind(from)
            .bind(page.limit)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(EventRow::into_event).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(aggregate_id = aggregate_id))]
    async fn last_sequence(&self, aggregate_id: &str) -> Result<i64, StoreError> {
        let (last,): (Option<i64>,) = sqlx::query_as(queries::LAST_SEQUENCE)
            .bind(aggregate_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(last.unwrap_or(0))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(limit = limit))]
    async fn claim_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<SmsJob>, StoreError> {
        if let Some(local) = &self.local {
            let claimed = local.queue_claim(now, lease_until, limit)?;
            // The claim rides in the writer's next batch; an empty commit makes sure there is one.
            self.writer.commit(Commit::default()).await?;
            return claimed.jobs().await;
        }
        // A claim writes (it takes a lease), so it queues for the writer's own connection. On SQLite a claim
        // from the readers' pool would wait for the write lock in busy-timeout sleeps and lose it, again and
        // again, to the group-commit writer, which takes it back at once: under write load no SMS went out.
        let rows: Vec<JobRow> = sqlx::query_as(DB::CLAIM_JOBS)
            .bind(micros(lease_until))
            .bind(micros(now))
            .bind(limit)
            .fetch_all(&self.write_pool)
            .await?;
        rows.into_iter().map(JobRow::into_job).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn job_counts(&self) -> Result<JobCounts, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(queries::COUNT_JOBS_BY_STATE)
            .fetch_all(&self.pool)
            .await?;
        job_counts(rows)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn prune_settled_jobs(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let (due,): (i64,) = sqlx::query_as(queries::ANY_SETTLED_JOB_BEFORE)
            .bind(micros(before))
            .fetch_one(&self.pool)
            .await?;
        if due == 0 {
            return Ok(0);
        }
        self.run_between_batches(Statement::new(
            queries::PRUNE_SETTLED_JOBS,
            vec![Param::Int(micros(before)), Param::Int(limit)],
        ))
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn prune_daily_counts(&self, before_day: &str, limit: i64) -> Result<u64, StoreError> {
        let (due,): (i64,) = sqlx::query_as(queries::ANY_DAY_BEFORE)
            .bind(before_day)
            .fetch_one(&self.pool)
            .await?;
        if due == 0 {
            return Ok(0);
        }
        let mut deleted = 0;
        for prune in [queries::PRUNE_PHONE_DAYS, queries::PRUNE_ORG_DAYS] {
            let params = vec![Param::Text(before_day.to_owned()), Param::Int(limit)];
            deleted += self
                .run_between_batches(Statement::new(prune, params))
                .await?;
        }
        Ok(deleted)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn next_job_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let (due,): (Option<i64>,) = sqlx::query_as(queries::NEXT_JOB_DUE)
            .fetch_one(&self.pool)
            .await?;
        due.map(|t| from_micros(t, "sms_jobs.next_attempt_at"))
            .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn projections(&self) -> Result<Projections, StoreError> {
        let users: Vec<UserRow> = sqlx::query_as(queries::SELECT_USERS)
            .fetch_all(&self.pool)
            .await?;
        let orgs: Vec<OrgRow> = sqlx::query_as(queries::SELECT_ORGS)
            .fetch_all(&self.pool)
            .await?;
        let memberships: Vec<MembershipRow> = sqlx::query_as(queries::SELECT_MEMBERSHIPS)
            .fetch_all(&self.pool)
            .await?;
        let pats: Vec<PatRow> = sqlx::query_as(queries::SELECT_PATS)
            .fetch_all(&self.pool)
            .await?;
        Ok(Projections {
            pats: pats
                .into_iter()
                .map(PatRow::into_pat)
                .collect::<Result<_, _>>()?,
            instance: self.instance().await?,
            orgs: orgs
                .into_iter()
                .map(OrgRow::into_org)
                .collect::<Result<_, _>>()?,
            users: users
                .into_iter()
                .map(UserRow::into_user)
                .collect::<Result<_, _>>()?,
            memberships: memberships
                .into_iter()
                .map(MembershipRow::into_membership)
                .collect::<Result<_, _>>()?,
        }
        .sorted())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn rebuild_projections(&self, fold: &RebuildFold) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        if let Some(lock) = DB::LOCK_EVENTS {
            sqlx::query(lock).execute(&mut *tx).await?;
        }
        let rows: Vec<EventRow> = sqlx::query_as(queries::SELECT_ALL_EVENTS)
            .fetch_all(&mut *tx)
            .await?;
        let events = rows
            .into_iter()
            .map(EventRow::into_event)
            .collect::<Result<Vec<_>, _>>()?;
        let projections = fold(&events).map_err(StoreError::internal)?;
        for reset in queries::RESET_PROJECTIONS {
            sqlx::query(reset).execute(&mut *tx).await?;
        }
        for statement in projection_statements(&projections)? {
            Self::run_statement(&mut tx, &statement).await?;
        }
        tx.commit().await?;
        Ok(events.len())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn close(&self) {
        if let Some(local) = &self.local {
            local.close();
        }
        if let Some(lookups) = &self.lookups {
            lookups.close_lookups();
        }
        self.pool.close().await;
        self.write_pool.close().await;
    }
}

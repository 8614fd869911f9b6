//! Writing inside a transaction: the writer's batches (one transaction, each commit in its own savepoint, so a
//! commit that fails is undone alone), and the row writers they share with `rebuild_projections`.

use sqlx::{Acquire, Encode, Executor, IntoArguments, Pool, Type};

use super::queries;
use super::rows::{UserRow, micros, roles_json};
use super::sql_store::{Backend, SqlStore};
use super::writer::{BatchOutcome, WriteBatch};
use super::{
    Commit, InstanceInfo, JobUpdate, NewSmsJob, OrgSmsQuota, PatRecord, SmsQuota, StoreError,
};
use crate::domain::events::{INSTANCE_ID, NewEvent};
use crate::domain::org::{Membership, Org};
use crate::domain::user::User;

impl<DB> SqlStore<DB>
where
    DB: Backend,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'r> (i64,): sqlx::FromRow<'r, DB::Row>,
{
    pub(super) async fn insert_event(
        conn: &mut DB::Connection,
        e: &NewEvent,
    ) -> Result<(), StoreError> {
        let payload = e.payload.as_ref().map(|p| p.to_string());
        sqlx::query(queries::INSERT_EVENT)
            .bind(e.aggregate_type)
            .bind(e.aggregate_id.as_str())
            .bind(e.sequence)
            .bind(e.event_type.as_str())
            .bind(payload.as_deref())
            .bind(e.resource_owner.as_str())
            .bind(e.creator.as_str())
            .bind(micros(e.created_at))
            .execute(conn)
            .await?;
        Ok(())
    }

    pub(super) async fn upsert_user(conn: &mut DB::Connection, u: &User) -> Result<(), StoreError> {
        let r = UserRow::from_user(u);
        sqlx::query(queries::UPSERT_USER)
            .bind(r.id.as_str())
            .bind(r.org_id.as_str())
            .bind(r.username.as_str())
            .bind(r.state.as_str())
            .bind(r.kind.as_str())
            .bind(r.given_name.as_str())
            .bind(r.family_name.as_str())
            .bind(r.display_name.as_str())
            .bind(r.nick_name.as_str())
            .bind(r.preferred_language.as_str())
            .bind(r.email.as_str())
            .bind(r.email_verified)
            .bind(r.machine_name.as_str())
            .bind(r.machine_description.as_str())
            .bind(r.phone.as_deref())
            .bind(r.phone_verified)
            .bind(r.code_sequence)
            .bind(r.code_hash.as_deref())
            .bind(r.code_created_at)
            .bind(r.code_expires_at)
            .bind(r.code_attempts)
            .bind(r.code_delivery.as_deref())
            .bind(r.sequence)
            .bind(r.created_at)
            .bind(r.changed_at)
            .bind(r.last_sms_at)
            .execute(conn)
            .await?;
        Ok(())
    }

    pub(super) async fn upsert_org(conn: &mut DB::Connection, o: &Org) -> Result<(), StoreError> {
        sqlx::query(queries::UPSERT_ORG)
            .bind(o.id.as_str())
            .bind(o.name.as_str())
            .bind(o.sequence)
            .bind(micros(o.created_at))
            .bind(micros(o.changed_at))
            .execute(conn)
            .await?;
        Ok(())
    }

    pub(super) async fn upsert_membership(
        conn: &mut DB::Connection,
        m: &Membership,
    ) -> Result<(), StoreError> {
        let roles = roles_json(m)?;
        sqlx::query(queries::UPSERT_MEMBERSHIP)
            .bind(m.user_id.as_str())
            .bind(m.scope.key())
            .bind(roles.as_str())
            .execute(conn)
            .await?;
        Ok(())
    }

    pub(super) async fn insert_instance(
        conn: &mut DB::Connection,
        i: &InstanceInfo,
    ) -> Result<(), StoreError> {
        sqlx::query(queries::INSERT_INSTANCE)
            .bind(INSTANCE_ID)
            .bind(i.default_org_id.as_str())
            .bind(i.admin_user_id.as_str())
            .execute(conn)
            .await?;
        Ok(())
    }

    pub(super) async fn insert_pat(
        conn: &mut DB::Connection,
        p: &PatRecord,
    ) -> Result<(), StoreError> {
        sqlx::query(queries::INSERT_PAT)
            .bind(p.token_id.as_str())
            .bind(p.user_id.as_str())
            .bind(micros(p.expires_at))
            .execute(conn)
            .await?;
        Ok(())
    }

    pub(super) async fn delete_pat(
        conn: &mut DB::Connection,
        token_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(queries::DELETE_PAT)
            .bind(token_id)
            .execute(conn)
            .await?;
        Ok(())
    }

    pub(super) async fn insert_job(
        conn: &mut DB::Connection,
        j: &NewSmsJob,
    ) -> Result<(), StoreError> {
        sqlx::query(queries::INSERT_JOB)
            .bind(j.id.as_str())
            .bind(j.user_id.as_str())
            .bind(j.code_sequence)
            .bind(j.phone.as_str())
            .bind(j.encrypted_code.as_str())
            .bind(j.language.as_str())
            .bind(micros(j.created_at))
            .bind(micros(j.expires_at))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Counts one SMS against the number's daily cap; `QuotaExceeded` (and the caller's transaction dropped,
    /// undoing its other writes) at the cap.
    pub(super) async fn count_sms(
        conn: &mut DB::Connection,
        q: &SmsQuota,
    ) -> Result<(), StoreError> {
        let counted: Option<(i64,)> = sqlx::query_as(queries::COUNT_SMS)
            .bind(q.phone.as_str())
            .bind(q.day.as_str())
            .bind(q.limit)
            .fetch_optional(conn)
            .await?;
        counted.map(|_| ()).ok_or(StoreError::QuotaExceeded)
    }

    /// Counts one SMS against the organization's daily budget; `OrgQuotaExceeded` when it is spent.
    pub(super) async fn count_org_sms(
        conn: &mut DB::Connection,
        q: &OrgSmsQuota,
    ) -> Result<(), StoreError> {
        let counted: Option<(i64,)> = sqlx::query_as(queries::COUNT_ORG_SMS)
            .bind(q.org_id.as_str())
            .bind(q.day.as_str())
            .bind(q.limit)
            .fetch_optional(conn)
            .await?;
        counted.map(|_| ()).ok_or(StoreError::OrgQuotaExceeded)
    }

    /// `LeaseLost` when the job is no longer leased under `j.lease_until`.
    pub(super) async fn update_job(
        conn: &mut DB::Connection,
        j: &JobUpdate,
    ) -> Result<(), StoreError> {
        let updated = sqlx::query(queries::UPDATE_JOB)
            .bind(j.id.as_str())
            .bind(j.state.as_str())
            .bind(j.attempts)
            .bind(micros(j.next_attempt_at))
            .bind(j.last_error.as_deref())
            .bind(micros(j.updated_at))
            .bind(micros(j.lease_until))
            .execute(conn)
            .await?;
        if DB::rows_affected(&updated) != 1 {
            return Err(StoreError::LeaseLost);
        }
        Ok(())
    }

    /// The writer's work for this database, on the writer's own connections.
    pub(super) fn batch_writer(pool: Pool<DB>) -> WriteBatch {
        Box::new(move |commits| {
            let pool = pool.clone();
            Box::pin(async move { Self::write_batch(&pool, &commits).await })
        })
    }

    async fn write_batch(pool: &Pool<DB>, commits: &[Commit]) -> BatchOutcome {
        let mut tx = pool.begin_with(DB::BEGIN_WRITE).await?;
        if let [commit] = commits {
            // Alone in its transaction: no savepoint needed, a failure undoes just this commit.
            if let Err(e) = Self::apply(&mut tx, commit).await {
                tx.rollback().await?;
                return Ok(vec![Err(e)]);
            }
            tx.commit().await?;
            return Ok(vec![Ok(())]);
        }
        let mut outcomes = Vec::with_capacity(commits.len());
        for commit in commits {
            let mut savepoint = tx.begin().await?;
            match Self::apply(&mut savepoint, commit).await {
                Ok(()) => {
                    savepoint.commit().await?;
                    outcomes.push(Ok(()));
                }
                Err(e) => {
                    savepoint.rollback().await?;
                    outcomes.push(Err(e));
                }
            }
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Everything one commit writes; the caller's transaction or savepoint makes it all or nothing.
    async fn apply(conn: &mut DB::Connection, commit: &Commit) -> Result<(), StoreError> {
        for e in &commit.events {
            Self::insert_event(conn, e).await?;
        }
        for u in &commit.users {
            Self::upsert_user(conn, u).await?;
        }
        for o in &commit.orgs {
            Self::upsert_org(conn, o).await?;
        }
        for m in &commit.memberships {
            Self::upsert_membership(conn, m).await?;
        }
        if let Some(i) = &commit.instance {
            Self::insert_instance(conn, i).await?;
        }
        for p in &commit.pats_added {
            Self::insert_pat(conn, p).await?;
        }
        for token_id in &commit.pats_removed {
            Self::delete_pat(conn, token_id).await?;
        }
        for j in &commit.jobs {
            Self::insert_job(conn, j).await?;
        }
        if let Some(q) = &commit.sms_quota {
            Self::count_sms(conn, q).await?;
        }
        if let Some(q) = &commit.org_sms_quota {
            Self::count_org_sms(conn, q).await?;
        }
        for j in &commit.job_updates {
            Self::update_job(conn, j).await?;
        }
        Ok(())
    }
}

//! What the writer (`writer.rs`) does with a batch on a sqlx database: one transaction, each commit in its own
//! savepoint, so a commit that fails is undone alone.

use sqlx::{Acquire, Encode, Executor, IntoArguments, Pool, Type};

use super::sql_store::{Backend, SqlStore};
use super::writer::{BatchOutcome, WriteBatch};
use super::{Commit, StoreError};

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
        for j in &commit.job_updates {
            Self::update_job(conn, j).await?;
        }
        Ok(())
    }
}

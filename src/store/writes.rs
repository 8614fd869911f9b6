//! Writing inside a transaction: the writer's batches (one transaction, each commit in its own savepoint, so a
//! commit that fails is undone alone) and `rebuild_projections`, running the statements `statements` plans
//! through sqlx.

use sqlx::{Acquire, Encode, Executor, IntoArguments, Pool, Transaction, Type};

use super::sql_store::{Backend, SqlStore};
use super::statements::{Expect, Param, Statement, commit_statements};
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
    /// Runs one planned statement, checks what it must have done, and says how many rows it changed.
    pub(super) async fn run_statement(
        conn: &mut DB::Connection,
        statement: &Statement,
    ) -> Result<u64, StoreError> {
        let mut query = sqlx::query(statement.sql);
        for param in &statement.params {
            query = match param {
                Param::Text(v) => query.bind(v.as_str()),
                Param::OptText(v) => query.bind(v.as_deref()),
                Param::Int(v) => query.bind(*v),
                Param::OptInt(v) => query.bind(*v),
                Param::Bool(v) => query.bind(*v),
            };
        }
        Ok(match statement.expect {
            Expect::Anything => DB::rows_affected(&query.execute(conn).await?),
            Expect::ARow(refusal) => {
                if query.fetch_optional(conn).await?.is_none() {
                    return Err(refusal());
                }
                1
            }
            Expect::OneChange(refusal) => {
                let changed = DB::rows_affected(&query.execute(conn).await?);
                if changed != 1 {
                    return Err(refusal());
                }
                changed
            }
        })
    }

    /// Runs one of the retention pass's deletions outside any commit: on SQLite's write connection between
    /// the writer's batches (`sqlite_local::between_batches`), elsewhere on a connection of the write pool.
    pub(super) async fn run_between_batches(
        &self,
        statement: Statement,
    ) -> Result<u64, StoreError> {
        if let Some(local) = &self.local {
            let queued = local.queue_between_batches(statement)?;
            // The statement runs before the writer's next batch; an empty commit makes sure there is one.
            self.writer.commit(Commit::default()).await?;
            return queued.changed().await;
        }
        let mut connection = self.write_pool.acquire().await?;
        Self::run_statement(&mut connection, &statement).await
    }

    /// The writer's work for this database, on the writer's own connections.
    pub(super) fn batch_writer(pool: Pool<DB>) -> WriteBatch {
        Box::new(move |commits| {
            let pool = pool.clone();
            Box::pin(async move { Self::write_batch(&pool, &commits).await })
        })
    }

    async fn write_batch(pool: &Pool<DB>, commits: &[Commit]) -> BatchOutcome {
        if commits.len() > 1
            && let Some(outcomes) = Self::write_all_or_nothing(pool, commits).await?
        {
            return Ok(outcomes);
        }
        Self::write_one_by_one(pool.begin_with(DB::BEGIN_WRITE).await?, commits).await
    }

    /// The batch in `tx`, each commit in a savepoint of its own (or alone in the transaction), so a commit that
    /// fails is undone alone and gets its own outcome.
    pub(super) async fn write_one_by_one(
        mut tx: Transaction<'_, DB>,
        commits: &[Commit],
    ) -> BatchOutcome {
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

    /// The batch without savepoints, which on Postgres are two round trips per commit: nearly every batch has
    /// no commit that fails. If one does, nothing of the batch is kept (None) and the caller writes it again
    /// with a savepoint per commit, which undoes that one alone.
    async fn write_all_or_nothing(
        pool: &Pool<DB>,
        commits: &[Commit],
    ) -> Result<Option<Vec<Result<(), StoreError>>>, StoreError> {
        let mut tx = pool.begin_with(DB::BEGIN_WRITE).await?;
        for commit in commits {
            if Self::apply(&mut tx, commit).await.is_err() {
                tx.rollback().await?;
                return Ok(None);
            }
        }
        tx.commit().await?;
        Ok(Some(commits.iter().map(|_| Ok(())).collect()))
    }

    /// Everything one commit writes; the caller's transaction or savepoint makes it all or nothing.
    async fn apply(conn: &mut DB::Connection, commit: &Commit) -> Result<(), StoreError> {
        let mut changed_before = 0;
        for statement in commit_statements(commit)? {
            if statement.skipped_after(changed_before) {
                continue;
            }
            changed_before = Self::run_statement(conn, &statement).await?;
        }
        Ok(())
    }
}

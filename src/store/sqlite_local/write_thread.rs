//! SQLite's one writer as a thread of its own that owns the write connection. A whole group-commit batch is
//! handed over once and runs there as plain function calls; through sqlx every statement of it was a round
//! trip to a connection thread and back, and those hand-offs, not SQLite, bounded the write rate.

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::bind;
use crate::store::statements::{Expect, Statement};
use crate::store::{StoreError, queries};

type Work = Box<dyn FnOnce(&mut Connection) + Send>;

pub(crate) struct WriteThread {
    work: std::sync::mpsc::Sender<Work>,
}

impl WriteThread {
    /// The thread ends, closing the connection, once this is dropped and its queued work is done.
    pub fn start(mut connection: Connection) -> Result<Self, StoreError> {
        let (work, queue) = std::sync::mpsc::channel::<Work>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                for item in queue {
                    item(&mut connection);
                }
            })
            .map_err(|e| StoreError::failed("cannot start the SQLite writer thread", e))?;
        Ok(Self { work })
    }

    /// Runs `work` on the write connection and waits for its result without blocking the caller's thread.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.work
            .send(Box::new(move |connection| {
                // The caller may have gone (its request was cancelled): the work is done all the same.
                let _ = reply.send(work(connection));
            }))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the SQLite writer thread has stopped".into())
}

/// What a batch did to each commit, and the write stamp it committed (`queries::BUMP_WRITE_STAMP`); None when
/// it committed nothing.
pub(super) type Written = Result<(Vec<Result<(), StoreError>>, Option<i64>), StoreError>;

/// One transaction for the batch, each commit in its own savepoint so that one that fails is undone alone;
/// `plans[i]` is commit i's statements (or why they could not be planned).
pub(super) fn write_batch(
    connection: &mut Connection,
    plans: Vec<Result<Vec<Statement>, StoreError>>,
) -> Written {
    let mut tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let stamp: i64 = tx
        .prepare_cached(queries::BUMP_WRITE_STAMP)?
        .query_row([], |row| row.get(0))?;
    let mut outcomes = Vec::with_capacity(plans.len());
    if let [plan] = plans.as_slice() {
        // Alone in its transaction: no savepoint needed, a failure undoes just this commit.
        let outcome = plan
            .as_ref()
            .map_err(planning_failed)
            .and_then(|p| apply(&tx, p));
        let committed = outcome.is_ok();
        if committed {
            tx.commit()?;
        } else {
            tx.rollback()?;
        }
        outcomes.push(outcome);
        return Ok((outcomes, committed.then_some(stamp)));
    }
    for plan in &plans {
        let mut savepoint = tx.savepoint()?;
        let outcome = plan
            .as_ref()
            .map_err(planning_failed)
            .and_then(|p| apply(&savepoint, p));
        if outcome.is_err() {
            savepoint.rollback()?;
        }
        // Releases the savepoint: what it holds (nothing, after a rollback) joins the transaction.
        savepoint.commit()?;
        outcomes.push(outcome);
    }
    tx.commit()?;
    Ok((outcomes, Some(stamp)))
}

/// A planning failure, told to its own commit.
fn planning_failed(e: &StoreError) -> StoreError {
    StoreError::internal(e.to_string())
}

fn apply(connection: &Connection, plan: &[Statement]) -> Result<(), StoreError> {
    let mut changed_before = 0;
    for statement in plan {
        if statement.skipped_after(changed_before) {
            continue;
        }
        changed_before = run_statement(connection, statement)?;
    }
    Ok(())
}

/// Runs one planned statement, checks what it must have done, and says how many rows it changed.
pub(super) fn run_statement(
    connection: &Connection,
    statement: &Statement,
) -> Result<u64, StoreError> {
    let mut prepared = connection.prepare_cached(statement.sql)?;
    bind(&mut prepared, &statement.params)?;
    let changed = match statement.expect {
        Expect::Anything => prepared.raw_execute()?,
        Expect::ARow(refusal) => {
            let mut rows = prepared.raw_query();
            if rows.next()?.is_none() {
                return Err(refusal());
            }
            1
        }
        Expect::OneChange(refusal) => {
            let changed = prepared.raw_execute()?;
            if changed != 1 {
                return Err(refusal());
            }
            changed
        }
    };
    Ok(u64::try_from(changed).unwrap_or(u64::MAX))
}

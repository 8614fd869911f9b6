//! A group-commit batch on SQLite's one write connection, as plain calls into SQLite on the writer's own thread
//! (`writer::Writer::on_thread`): through sqlx every statement of it was a round trip to a connection thread and
//! back, and those hand-offs, not SQLite, bounded the write rate.

use rusqlite::{Connection, TransactionBehavior};

use super::bind;
use crate::store::statements::{Expect, Statement};
use crate::store::{StoreError, queries};

/// What a batch did to each commit, and the write stamp it committed (`queries::BUMP_WRITE_STAMP`); None when
/// it committed nothing.
pub(super) type Written = Result<(Vec<Result<(), StoreError>>, Option<i64>), StoreError>;

/// One transaction for the batch, each commit in its own savepoint so that one that fails is undone alone;
/// `plans[i]` is commit i's statements (or why they could not be planned).
pub(super) fn write_batch(
    connection: &mut Connection,
    plans: Vec<Result<Vec<Statement>, StoreError>>,
) -> Written {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        run_cached(&tx, SAVEPOINT)?;
        let outcome = plan
            .as_ref()
            .map_err(planning_failed)
            .and_then(|p| apply(&tx, p));
        if outcome.is_err() {
            run_cached(&tx, UNDO_TO_SAVEPOINT)?;
        }
        // What the savepoint holds (nothing, after an undo) joins the transaction.
        run_cached(&tx, RELEASE_SAVEPOINT)?;
        outcomes.push(outcome);
    }
    tx.commit()?;
    Ok((outcomes, Some(stamp)))
}

/// Each commit's savepoint, as statements compiled once on the connection: rusqlite's `Savepoint` parses its
/// SQL anew every time, twice per commit. Should one of them fail, the transaction is dropped, which undoes it.
const SAVEPOINT: &str = "SAVEPOINT one_commit";
const UNDO_TO_SAVEPOINT: &str = "ROLLBACK TO one_commit";
const RELEASE_SAVEPOINT: &str = "RELEASE one_commit";

fn run_cached(connection: &Connection, sql: &str) -> rusqlite::Result<()> {
    connection.prepare_cached(sql)?.raw_execute().map(|_| ())
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

//! A group-commit batch on SQLite's one write connection, as plain calls into SQLite on the writer's own thread
//! (`writer::Writer::on_thread`): through sqlx every statement of it was a round trip to a connection thread and
//! back, and those hand-offs, not SQLite, bounded the write rate.
//!
//! A batch is first written with its commits side by side in one transaction. A commit refused before it wrote
//! anything (a conflict on its first event, a cap reached by its first counter, a lost lease) needs no undoing:
//! SQLite backs out the failed statement alone. Only a commit that fails after it wrote makes the batch undo
//! everything and start again with each commit in a savepoint of its own, which undoes one commit alone. A
//! savepoint journals every page its commit touches, so it is kept for the batches that need it.
//!
//! The delivery worker's job claims ride in the same transaction, after the commits: a claim writes (a lease),
//! and in a transaction of its own it cost a sync of the file and held the write connection meanwhile.

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::{bind, collect, decode, prepared};
use crate::store::rows::JobRow;
use crate::store::statements::{Expect, Param, Statement};
use crate::store::{StoreError, queries};

pub(super) type Written = Result<BatchWritten, StoreError>;

/// What a batch did.
#[derive(Debug)]
pub(super) struct BatchWritten {
    /// Each commit's outcome, in the order given.
    pub outcomes: Vec<Result<(), StoreError>>,
    /// The write stamp committed (`queries::BUMP_WRITE_STAMP`); None when nothing was committed.
    pub stamp: Option<i64>,
    /// Each claim's leased jobs, in the order given.
    pub claimed: Vec<Result<Vec<JobRow>, StoreError>>,
}

/// The parameters of `queries::CLAIM_JOBS_SQLITE`: a job claim to run in a batch.
pub(super) type Claim = [Param; 3];

/// A commit's statements, or why they could not be planned.
pub(super) type Plan = Result<Vec<Statement>, StoreError>;

/// Batches written with savepoints straight away after one had to be undone and written again: failures after
/// a write come in runs (an org's budget spent, one user's writes racing another process), and each undo
/// throws a batch's work away.
const SAVEPOINT_BATCHES_AFTER_AN_UNDO: u32 = 32;

/// How the writer's next batches are written; it lives as long as the writer.
#[derive(Debug, Default)]
pub(super) struct BatchMode {
    savepoint_batches_left: u32,
}

/// One transaction for the batch; `plans[i]` is commit i's statements. A commit that fails leaves its
/// neighbours' writes as they are.
pub(super) fn write_batch(
    connection: &mut Connection,
    plans: Vec<Plan>,
    claims: &[Claim],
    mode: &mut BatchMode,
) -> Written {
    if let ([plan], []) = (plans.as_slice(), claims) {
        return write_alone(connection, plan);
    }
    if mode.savepoint_batches_left > 0 {
        mode.savepoint_batches_left -= 1;
        return write_with_savepoints(connection, &plans, claims);
    }
    match write_side_by_side(connection, &plans, claims)? {
        Some(written) => Ok(written),
        None => {
            mode.savepoint_batches_left = SAVEPOINT_BATCHES_AFTER_AN_UNDO;
            write_with_savepoints(connection, &plans, claims)
        }
    }
}

fn begin(connection: &mut Connection) -> Result<(Transaction<'_>, i64), StoreError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let stamp: i64 = tx
        .prepare_cached(queries::BUMP_WRITE_STAMP)?
        .query_row([], |row| row.get(0))?;
    Ok((tx, stamp))
}

/// A commit alone in its transaction: a failure undoes just this commit, no savepoint needed.
fn write_alone(connection: &mut Connection, plan: &Plan) -> Written {
    let (tx, stamp) = begin(connection)?;
    let outcome = apply_plan(&tx, plan).map_err(|f| f.error);
    let committed = outcome.is_ok();
    if committed {
        tx.commit()?;
    } else {
        tx.rollback()?;
    }
    Ok(BatchWritten {
        outcomes: vec![outcome],
        stamp: committed.then_some(stamp),
        claimed: Vec::new(),
    })
}

/// The commits one after another with nothing between them; None (and nothing written) when one failed after
/// it had written, which only a savepoint could have undone alone.
fn write_side_by_side(
    connection: &mut Connection,
    plans: &[Plan],
    claims: &[Claim],
) -> Result<Option<BatchWritten>, StoreError> {
    let (tx, stamp) = begin(connection)?;
    let mut outcomes = Vec::with_capacity(plans.len());
    for plan in plans {
        let outcome = match apply_plan(&tx, plan) {
            Ok(()) => Ok(()),
            // SQLite gives up the whole transaction on some errors (a full disk, I/O): what follows would run
            // outside it. The savepoint pass meets the same error and fails the batch as a whole.
            Err(failure) if failure.wrote || tx.is_autocommit() => return Ok(None),
            Err(failure) => Err(failure.error),
        };
        outcomes.push(outcome);
    }
    finish(tx, stamp, outcomes, claims).map(Some)
}

/// Each commit in its own savepoint, so that one that fails is undone alone.
fn write_with_savepoints(connection: &mut Connection, plans: &[Plan], claims: &[Claim]) -> Written {
    let (tx, stamp) = begin(connection)?;
    let mut outcomes = Vec::with_capacity(plans.len());
    for plan in plans {
        run_cached(&tx, SAVEPOINT)?;
        let outcome = apply_plan(&tx, plan).map_err(|f| f.error);
        if outcome.is_err() {
            run_cached(&tx, UNDO_TO_SAVEPOINT)?;
        }
        // What the savepoint holds (nothing, after an undo) joins the transaction.
        run_cached(&tx, RELEASE_SAVEPOINT)?;
        outcomes.push(outcome);
    }
    finish(tx, stamp, outcomes, claims)
}

/// Runs the claims after the batch's commits and commits the transaction.
fn finish(
    tx: Transaction<'_>,
    stamp: i64,
    outcomes: Vec<Result<(), StoreError>>,
    claims: &[Claim],
) -> Written {
    let claimed = run_claims(&tx, claims)?;
    tx.commit()?;
    Ok(BatchWritten {
        outcomes,
        stamp: Some(stamp),
        claimed,
    })
}

/// The claims, after the batch's commits (so a job queued in this batch can be leased by it). A claim that
/// fails is told so alone, unless SQLite gave up the transaction, which fails the batch.
fn run_claims(
    tx: &Transaction<'_>,
    claims: &[Claim],
) -> Result<Vec<Result<Vec<JobRow>, StoreError>>, StoreError> {
    let mut claimed = Vec::with_capacity(claims.len());
    for params in claims {
        let leased = claim(tx, params);
        if leased.is_err() && tx.is_autocommit() {
            return Err(StoreError::Unavailable(
                "the batch's transaction was rolled back".into(),
            ));
        }
        claimed.push(leased.map_err(StoreError::from));
    }
    Ok(claimed)
}

fn claim(connection: &Connection, params: &Claim) -> rusqlite::Result<Vec<JobRow>> {
    let mut statement = prepared(connection, queries::CLAIM_JOBS_SQLITE, params)?;
    collect(statement.raw_query(), decode::job)
}

/// Each commit's savepoint, as statements compiled once on the connection: rusqlite's `Savepoint` parses its
/// SQL anew every time, twice per commit. Should one of them fail, the transaction is dropped, which undoes it.
const SAVEPOINT: &str = "SAVEPOINT one_commit";
const UNDO_TO_SAVEPOINT: &str = "ROLLBACK TO one_commit";
const RELEASE_SAVEPOINT: &str = "RELEASE one_commit";

fn run_cached(connection: &Connection, sql: &str) -> rusqlite::Result<()> {
    connection.prepare_cached(sql)?.raw_execute().map(|_| ())
}

/// A commit's plan applied; a planning failure is told to its own commit, having written nothing.
fn apply_plan(connection: &Connection, plan: &Plan) -> Result<(), Failure> {
    match plan {
        Ok(statements) => apply(connection, statements),
        Err(e) => Err(Failure {
            error: StoreError::internal(e.to_string()),
            wrote: false,
        }),
    }
}

/// Why a commit failed, and whether it had changed rows by then (which the transaction still holds).
struct Failure {
    error: StoreError,
    wrote: bool,
}

fn apply(connection: &Connection, plan: &[Statement]) -> Result<(), Failure> {
    let mut wrote = false;
    let mut changed_before = 0;
    for statement in plan {
        if statement.skipped_after(changed_before) {
            continue;
        }
        changed_before =
            run_statement(connection, statement).map_err(|(error, changed)| Failure {
                error,
                wrote: wrote || changed > 0,
            })?;
        wrote |= changed_before > 0;
    }
    Ok(())
}

/// Runs one planned statement, checks what it must have done, and says how many rows it changed; a statement
/// that fails says how many rows it changed before its check refused them (SQLite backs out one that errs).
pub(super) fn run_statement(
    connection: &Connection,
    statement: &Statement,
) -> Result<u64, (StoreError, u64)> {
    let erred = |e: rusqlite::Error| (StoreError::from(e), 0);
    let mut prepared = connection.prepare_cached(statement.sql).map_err(erred)?;
    bind(&mut prepared, &statement.params).map_err(erred)?;
    let changed = match statement.expect {
        Expect::Anything => prepared.raw_execute().map_err(erred)?,
        Expect::ARow(refusal) => {
            let mut rows = prepared.raw_query();
            if rows.next().map_err(erred)?.is_none() {
                return Err((refusal(), 0));
            }
            1
        }
        Expect::OneChange(refusal) => {
            let changed = prepared.raw_execute().map_err(erred)?;
            if changed != 1 {
                return Err((refusal(), u64::try_from(changed).unwrap_or(u64::MAX)));
            }
            changed
        }
    };
    Ok(u64::try_from(changed).unwrap_or(u64::MAX))
}

#[cfg(test)]
#[path = "batches_tests.rs"]
mod tests;

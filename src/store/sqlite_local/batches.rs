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

use super::{bind, collect, decode};
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
    let outcome = plan
        .as_ref()
        .map_err(planning_failed)
        .and_then(|p| apply(&tx, p).map_err(|f| f.error));
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
        let outcome = match plan {
            Err(e) => Err(planning_failed(e)),
            Ok(plan) => match apply(&tx, plan) {
                Ok(()) => Ok(()),
                // SQLite gives up the whole transaction on some errors (a full disk, I/O): what follows would
                // run outside it. The savepoint pass meets the same error and fails the batch as a whole.
                Err(failure) if failure.wrote || tx.is_autocommit() => return Ok(None),
                Err(failure) => Err(failure.error),
            },
        };
        outcomes.push(outcome);
    }
    let claimed = run_claims(&tx, claims)?;
    tx.commit()?;
    Ok(Some(BatchWritten {
        outcomes,
        stamp: Some(stamp),
        claimed,
    }))
}

/// Each commit in its own savepoint, so that one that fails is undone alone.
fn write_with_savepoints(connection: &mut Connection, plans: &[Plan], claims: &[Claim]) -> Written {
    let (tx, stamp) = begin(connection)?;
    let mut outcomes = Vec::with_capacity(plans.len());
    for plan in plans {
        run_cached(&tx, SAVEPOINT)?;
        let outcome = plan
            .as_ref()
            .map_err(planning_failed)
            .and_then(|p| apply(&tx, p).map_err(|f| f.error));
        if outcome.is_err() {
            run_cached(&tx, UNDO_TO_SAVEPOINT)?;
        }
        // What the savepoint holds (nothing, after an undo) joins the transaction.
        run_cached(&tx, RELEASE_SAVEPOINT)?;
        outcomes.push(outcome);
    }
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
    let mut statement = connection.prepare_cached(queries::CLAIM_JOBS_SQLITE)?;
    bind(&mut statement, params)?;
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

/// A planning failure, told to its own commit.
fn planning_failed(e: &StoreError) -> StoreError {
    StoreError::internal(e.to_string())
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
fn run_statement(connection: &Connection, statement: &Statement) -> Result<u64, (StoreError, u64)> {
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
mod tests {
    use chrono::{TimeZone, Utc};

    use super::super::migrated_for_tests;
    use super::*;
    use crate::domain::events::NewEvent;
    use crate::store::rows::micros;
    use crate::store::statements::commit_statements;
    use crate::store::{Commit, NewSmsJob, SmsQuota};

    fn event(user: &str, sequence: i64) -> NewEvent {
        NewEvent {
            aggregate_type: "user",
            aggregate_id: user.to_owned(),
            sequence,
            event_type: "user.human.phone.code.added".to_owned(),
            payload: None,
            resource_owner: "org".to_owned(),
            creator: "tester".to_owned(),
            created_at: Utc.timestamp_opt(1_796_000_000, 0).unwrap(),
        }
    }

    /// A commit appending `sequences` to `user`, counted against a daily cap of `cap` sends when given.
    fn plan(user: &str, sequences: &[i64], cap: Option<i64>) -> Plan {
        let commit = Commit {
            events: sequences.iter().map(|&s| event(user, s)).collect(),
            sms_quota: cap.map(|limit| SmsQuota {
                phone: format!("+41 {user}"),
                day: "2026-12-04".to_owned(),
                limit,
            }),
            ..Commit::default()
        };
        commit_statements(&commit)
    }

    /// A commit that appends `user`'s event 1 and queues the SMS with its code.
    fn plan_with_sms(user: &str) -> Plan {
        let at = Utc.timestamp_opt(1_796_000_000, 0).unwrap();
        let commit = Commit {
            events: vec![event(user, 1)],
            jobs: vec![NewSmsJob {
                id: format!("job-{user}"),
                user_id: user.to_owned(),
                code_sequence: 1,
                phone: format!("+41 {user}"),
                encrypted_code: "sealed".to_owned(),
                language: "en".to_owned(),
                expires_at: at + chrono::Duration::minutes(10),
                created_at: at,
            }],
            ..Commit::default()
        };
        commit_statements(&commit)
    }

    /// A claim of up to `limit` jobs due a second after the jobs of `plan_with_sms` were queued.
    fn claim_due(limit: i64) -> Claim {
        let now = Utc.timestamp_opt(1_796_000_001, 0).unwrap();
        [
            Param::Int(micros(now + chrono::Duration::seconds(60))),
            Param::Int(micros(now)),
            Param::Int(limit),
        ]
    }

    fn claimed_ids(written: &BatchWritten) -> Vec<Vec<String>> {
        written
            .claimed
            .iter()
            .map(|c| c.as_ref().unwrap().iter().map(|j| j.id.clone()).collect())
            .collect()
    }

    fn events_of(connection: &Connection, user: &str) -> Vec<i64> {
        let mut s = connection
            .prepare("SELECT sequence FROM events WHERE aggregate_id = ?1 ORDER BY sequence")
            .unwrap();
        s.query_map([user], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn outcomes(written: Written) -> Vec<Result<(), String>> {
        let written = written.unwrap();
        assert!(
            written.stamp.is_some(),
            "a batch with a written commit commits"
        );
        written
            .outcomes
            .into_iter()
            .map(|o| o.map_err(|e| format!("{e:?}")))
            .collect()
    }

    #[test]
    fn a_commit_refused_before_it_wrote_leaves_the_batch_side_by_side() {
        let mut connection = migrated_for_tests();
        let mut mode = BatchMode::default();
        write_batch(&mut connection, vec![plan("b", &[1], None)], &[], &mut mode).unwrap();

        // "b" 1 is taken: the second commit conflicts on its first statement.
        let plans = vec![
            plan("a", &[1], None),
            plan("b", &[1, 2], None),
            plan("c", &[1], None),
        ];
        let got = outcomes(write_batch(&mut connection, plans, &[], &mut mode));

        assert_eq!(got, [Ok(()), Err("Conflict".into()), Ok(())]);
        assert_eq!(events_of(&connection, "a"), [1]);
        assert_eq!(events_of(&connection, "b"), [1]);
        assert_eq!(events_of(&connection, "c"), [1]);
        assert_eq!(mode.savepoint_batches_left, 0, "nothing had to be undone");
    }

    #[test]
    fn a_commit_that_fails_after_writing_is_undone_alone() {
        let mut connection = migrated_for_tests();
        let mut mode = BatchMode::default();
        write_batch(&mut connection, vec![plan("b", &[2], None)], &[], &mut mode).unwrap();

        // "b" 1 is free, "b" 2 is taken: the second commit fails after it wrote "b" 1.
        let plans = vec![
            plan("a", &[1], None),
            plan("b", &[1, 2], None),
            plan("c", &[1], None),
        ];
        let got = outcomes(write_batch(&mut connection, plans, &[], &mut mode));

        assert_eq!(got, [Ok(()), Err("Conflict".into()), Ok(())]);
        assert_eq!(events_of(&connection, "a"), [1]);
        assert_eq!(
            events_of(&connection, "b"),
            [2],
            "the failed commit's first event is undone"
        );
        assert_eq!(events_of(&connection, "c"), [1]);
        assert_eq!(mode.savepoint_batches_left, SAVEPOINT_BATCHES_AFTER_AN_UNDO);

        // The batches after it use savepoints from the start, and still undo a failed commit alone.
        let plans = vec![plan("a", &[2], None), plan("b", &[1, 2], None)];
        let got = outcomes(write_batch(&mut connection, plans, &[], &mut mode));
        assert_eq!(got, [Ok(()), Err("Conflict".into())]);
        assert_eq!(events_of(&connection, "b"), [2]);
        assert_eq!(
            mode.savepoint_batches_left,
            SAVEPOINT_BATCHES_AFTER_AN_UNDO - 1
        );
    }

    #[test]
    fn a_send_over_its_cap_is_refused_without_its_event() {
        let mut connection = migrated_for_tests();
        let mut mode = BatchMode::default();
        // Two sends to "a"'s number under a cap of one: the second is refused after its event was written.
        let plans = vec![
            plan("a", &[1], Some(1)),
            plan("a2", &[1], None),
            plan("a", &[2], Some(1)),
        ];
        let got = outcomes(write_batch(&mut connection, plans, &[], &mut mode));

        assert_eq!(got, [Ok(()), Ok(()), Err("QuotaExceeded".into())]);
        assert_eq!(events_of(&connection, "a"), [1]);
        assert_eq!(events_of(&connection, "a2"), [1]);
        let count: i64 = connection
            .query_row(
                "SELECT count FROM sms_daily WHERE phone = '+41 a'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(count, 1);
    }

    #[test]
    fn a_claim_leases_jobs_queued_in_its_own_batch_once() {
        let mut connection = migrated_for_tests();
        let mut mode = BatchMode::default();
        let plans = vec![plan_with_sms("a"), plan_with_sms("b")];
        let written = write_batch(
            &mut connection,
            plans,
            &[claim_due(1), claim_due(5)],
            &mut mode,
        )
        .unwrap();

        assert!(written.outcomes.iter().all(Result::is_ok));
        // Claims run after the commits, in order, and never lease a job twice.
        assert_eq!(claimed_ids(&written), [vec!["job-a"], vec!["job-b"]]);
        let again = write_batch(&mut connection, Vec::new(), &[claim_due(5)], &mut mode).unwrap();
        assert_eq!(claimed_ids(&again), [Vec::<String>::new()]);
    }

    #[test]
    fn a_claim_in_a_batch_written_again_leases_what_the_kept_commits_queued() {
        let mut connection = migrated_for_tests();
        let mut mode = BatchMode::default();
        write_batch(&mut connection, vec![plan("b", &[2], None)], &[], &mut mode).unwrap();

        // The second commit fails after it wrote: the batch is undone and written again with savepoints.
        let plans = vec![plan_with_sms("a"), plan("b", &[1, 2], None)];
        let written = write_batch(&mut connection, plans, &[claim_due(5)], &mut mode).unwrap();

        assert!(written.outcomes[0].is_ok() && written.outcomes[1].is_err());
        assert_eq!(mode.savepoint_batches_left, SAVEPOINT_BATCHES_AFTER_AN_UNDO);
        assert_eq!(claimed_ids(&written), [vec!["job-a"]]);
    }
}

use chrono::{TimeZone, Utc};
use rusqlite::Connection;

use super::super::test_schema::migrated_for_tests;
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

/// With "b"'s event `taken` already in the log, a batch of three commits whose second appends "b" 1 and
/// 2: it conflicts. The first and third commits stand whatever happens to the second.
fn batch_with_a_conflict_after(taken: i64) -> (Connection, BatchMode) {
    let mut connection = migrated_for_tests();
    let mut mode = BatchMode::default();
    write_batch(
        &mut connection,
        vec![plan("b", &[taken], None)],
        &[],
        &mut mode,
    )
    .unwrap();

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
        [taken],
        "the failed commit left nothing"
    );
    assert_eq!(events_of(&connection, "c"), [1]);
    (connection, mode)
}

#[test]
fn a_commit_refused_before_it_wrote_leaves_the_batch_side_by_side() {
    // "b" 1 is taken: the second commit conflicts on its first statement.
    let (_, mode) = batch_with_a_conflict_after(1);
    assert_eq!(mode.savepoint_batches_left, 0, "nothing had to be undone");
}

#[test]
fn a_commit_that_fails_after_writing_is_undone_alone() {
    // "b" 1 is free, "b" 2 is taken: the second commit fails after it wrote "b" 1.
    let (mut connection, mut mode) = batch_with_a_conflict_after(2);
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

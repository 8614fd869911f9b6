use std::error::Error;

use super::*;
use crate::store::CorruptRow;

/// Microseconds past anything chrono can hold.
const CORRUPT_TIME: i64 = i64::MAX;

fn human_row() -> UserRow {
    UserRow {
        id: "u1".into(),
        org_id: "o1".into(),
        username: "alice".into(),
        state: "active".into(),
        kind: "human".into(),
        given_name: "Alice".into(),
        family_name: "Liddell".into(),
        display_name: "Alice".into(),
        nick_name: String::new(),
        preferred_language: "en".into(),
        email: "alice@example.com".into(),
        email_verified: true,
        machine_name: String::new(),
        machine_description: String::new(),
        phone: Some("+41791234567".into()),
        phone_verified: false,
        code_sequence: Some(3),
        code_hash: Some("hash".into()),
        code_created_at: Some(1_700_000_000_000_000),
        code_expires_at: Some(1_700_000_600_000_000),
        code_attempts: Some(1),
        code_delivery: Some("sent".into()),
        sequence: 3,
        created_at: 1_700_000_000_000_000,
        changed_at: 1_700_000_000_000_000,
        last_sms_at: Some(1_700_000_000_000_000),
    }
}

fn job_row() -> JobRow {
    JobRow {
        id: "j1".into(),
        user_id: "u1".into(),
        code_sequence: 3,
        phone: "+41791234567".into(),
        encrypted_code: "sealed".into(),
        language: "en".into(),
        attempts: 0,
        expires_at: 1_700_000_600_000_000,
        created_at: 1_700_000_000_000_000,
        locked_until: 1_700_000_060_000_000,
    }
}

/// The column a corrupt-row error names.
fn corrupt_column<T: std::fmt::Debug>(result: Result<T, StoreError>) -> &'static str {
    let err = result.expect_err("a corrupt row must not read");
    assert!(matches!(err, StoreError::Internal(_)), "{err:?}");
    err.source()
        .and_then(|s| s.downcast_ref::<CorruptRow>())
        .map(|c| c.column)
        .expect("a corrupt-row error")
}

#[test]
fn a_user_row_round_trips() {
    let user = human_row().into_user().expect("readable");
    let again = UserRow::from_user(&user).into_user().expect("readable");
    assert_eq!(user, again);
}

#[test]
fn a_corrupt_timestamp_is_an_error_not_1970() {
    let mut row = human_row();
    row.created_at = CORRUPT_TIME;
    assert_eq!(corrupt_column(row.into_user()), "users.created_at");

    let mut row = human_row();
    row.code_expires_at = Some(CORRUPT_TIME);
    assert_eq!(corrupt_column(row.into_user()), "users.code_expires_at");

    let mut row = job_row();
    row.locked_until = CORRUPT_TIME;
    assert_eq!(corrupt_column(row.into_job()), "sms_jobs.locked_until");

    assert_eq!(
        corrupt_column(from_micros(CORRUPT_TIME, "orgs.changed_at")),
        "orgs.changed_at"
    );
}

#[test]
fn a_corrupt_state_is_an_error() {
    let mut row = human_row();
    row.state = "frozen".into();
    assert_eq!(corrupt_column(row.into_user()), "users.state");

    let counts = job_counts(vec![("pending".into(), 2), ("lost".into(), 1)]);
    assert_eq!(corrupt_column(counts), "sms_jobs.state");
}

#[test]
fn a_half_written_code_is_an_error_not_no_code() {
    let mut row = human_row();
    row.code_hash = None;
    assert_eq!(corrupt_column(row.into_user()), "users.code_hash");

    let mut row = human_row();
    row.code_created_at = None;
    assert_eq!(corrupt_column(row.into_user()), "users.code_created_at");

    let mut row = human_row();
    row.code_attempts = Some(-1);
    assert_eq!(corrupt_column(row.into_user()), "users.code_attempts");
}

#[test]
fn unreadable_json_keeps_the_parse_error() {
    let row = MembershipRow {
        user_id: "u1".into(),
        scope: "IAM".into(),
        roles: "[not json".into(),
    };
    let err = row.into_membership().expect_err("corrupt");
    let cause = err.source().and_then(|row| row.source());
    assert!(
        cause.is_some_and(|c| c.is::<serde_json::Error>()),
        "{err:?}"
    );
}

#[test]
fn job_counts_read_every_state() {
    let counts = job_counts(vec![
        ("pending".into(), 1),
        ("sent".into(), 2),
        ("failed".into(), 3),
        ("dropped".into(), 4),
    ])
    .expect("readable");
    assert_eq!(
        counts,
        JobCounts {
            pending: 1,
            sent: 2,
            failed: 3,
            dropped: 4
        }
    );
}

//! The SQL of the one statement in which Postgres writes a batch (`pg_batch`): for each kind of row the batch
//! holds, a data-modifying `WITH` query whose parameters are arrays, one per column of the single-row
//! statement, one element per row, that `UNNEST` turns back into rows. One statement is one round trip, and
//! outside a transaction Postgres commits it in the same trip; all of it is written or none.
//!
//! The statement for each combination of kinds is built once and kept, so each connection prepares it once.

use std::sync::LazyLock;

use super::queries::{USER_COLUMNS, USER_UPSERT_SET};

/// The kinds of rows a batch writes, each with the element types of its arrays, in the order of the
/// single-row statement's parameters (`statements`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    /// `INSERT_EVENT`'s rows.
    Events,
    /// `UPSERT_USER`'s rows, at most one per user.
    Users,
    /// `INSERT_JOB`'s rows, at most one per user: each rewrites its user's queued job where
    /// `REPLACE_QUEUED_JOB` would and is added where it would not.
    Jobs,
    /// `UPDATE_JOB`'s rows: jobs the delivery worker settles under their leases.
    SettledJobs,
    /// `COUNT_SMS`'s counts, one row per number and day: the sends of the batch, and the number's cap.
    PhoneSends,
    /// `COUNT_ORG_SMS`'s counts, one row per organization and day, with its budget.
    OrgSends,
}

/// Which of the given places (`$1` aggregate ids, `$2` sequences) the event log already holds.
pub(super) const EVENTS_IN_LOG: &str = "SELECT e.aggregate_id, e.sequence FROM UNNEST($1::text[], $2::bigint[]) \
     AS k(aggregate_id, sequence) JOIN events e ON e.aggregate_id = k.aggregate_id AND e.sequence = k.sequence";

const PARTS: [Part; 6] = [
    Part::Events,
    Part::Users,
    Part::Jobs,
    Part::SettledJobs,
    Part::PhoneSends,
    Part::OrgSends,
];

impl Part {
    fn element_types(self) -> &'static [&'static str] {
        const T: &str = "text";
        const I: &str = "bigint";
        const B: &str = "boolean";
        match self {
            Part::Events => &[T, T, I, T, T, T, T, I],
            Part::Users => &[
                T, T, T, T, T, T, T, T, T, T, T, B, T, T, T, B, I, T, I, I, I, T, I, I, I, I,
            ],
            Part::Jobs => &[T, T, I, T, T, T, I, I],
            Part::SettledJobs => &[T, T, I, I, T, I, I],
            Part::PhoneSends | Part::OrgSends => &[T, T, I, I],
        }
    }

    fn bit(self) -> usize {
        match self {
            Part::Events => 1,
            Part::Users => 2,
            Part::Jobs => 4,
            Part::SettledJobs => 8,
            Part::PhoneSends => 16,
            Part::OrgSends => 32,
        }
    }

    /// The part's `WITH` queries, reading its arrays from `arrays` (`$n::type[], ...`).
    fn queries(self, arrays: &str) -> String {
        match self {
            Part::Events => format!(
                "written_events AS (INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
                 payload, resource_owner, creator, created_at) SELECT aggregate_type, aggregate_id, sequence, \
                 event_type, payload, resource_owner, creator, created_at FROM UNNEST({arrays}) WITH ORDINALITY \
                 AS e(aggregate_type, aggregate_id, sequence, event_type, payload, resource_owner, creator, \
                 created_at, n) ORDER BY n)"
            ),
            Part::Users => format!(
                "written_users AS (INSERT INTO users ({USER_COLUMNS}) SELECT * FROM UNNEST({arrays})\
                 {USER_UPSERT_SET})"
            ),
            // The writer's connections plan joins as nested loops over the primary key (`postgres`), so each
            // queued job is found by key however the table grows. The `CASE` checks the rewritten row again
            // (a worker may have leased it meanwhile) in a form no planner takes for an index condition.
            Part::Jobs => format!(
                "new_jobs AS (SELECT * FROM UNNEST({arrays}) AS i(id, user_id, code_sequence, phone, \
                 encrypted_code, language, created_at, expires_at)), \
                 rewritten_jobs AS (UPDATE sms_jobs SET code_sequence = q.code_sequence, phone = q.phone, \
                 encrypted_code = q.encrypted_code, language = q.language, attempts = 0, locked_until = 0, \
                 expires_at = q.expires_at, last_error = NULL, created_at = q.created_at, \
                 updated_at = q.created_at \
                 FROM (SELECT i.*, (SELECT id FROM sms_jobs j WHERE j.user_id = i.user_id AND j.state = 'pending' \
                 AND j.locked_until <= i.created_at AND +j.next_attempt_at <= i.created_at LIMIT 1) AS job_id \
                 FROM new_jobs i) AS q \
                 WHERE sms_jobs.id = q.job_id AND CASE WHEN sms_jobs.state = 'pending' \
                 AND sms_jobs.locked_until <= q.created_at AND sms_jobs.next_attempt_at <= q.created_at \
                 THEN 1 ELSE 0 END = 1 RETURNING q.user_id), \
                 added_jobs AS (INSERT INTO sms_jobs (id, user_id, code_sequence, phone, encrypted_code, \
                 language, state, attempts, next_attempt_at, locked_until, expires_at, last_error, created_at, \
                 updated_at) SELECT id, user_id, code_sequence, phone, encrypted_code, language, 'pending', 0, \
                 created_at, 0, expires_at, NULL, created_at, created_at FROM new_jobs \
                 WHERE user_id NOT IN (SELECT user_id FROM rewritten_jobs))"
            ),
            Part::SettledJobs => format!(
                "settled_jobs AS (UPDATE sms_jobs SET state = u.state, attempts = u.attempts, \
                 next_attempt_at = u.next_attempt_at, last_error = u.last_error, updated_at = u.updated_at, \
                 locked_until = 0, \
                 encrypted_code = CASE WHEN u.state = 'pending' THEN sms_jobs.encrypted_code ELSE '' END \
                 FROM UNNEST({arrays}) AS u(id, state, attempts, next_attempt_at, last_error, updated_at, \
                 lease_until) \
                 WHERE sms_jobs.id = u.id AND sms_jobs.locked_until = u.lease_until RETURNING sms_jobs.id)"
            ),
            Part::PhoneSends => counted("phone_sends", "sms_daily", "phone", arrays),
            Part::OrgSends => counted("org_sends", "sms_org_daily", "org_id", arrays),
        }
    }

    /// What must hold once the part is written, reading its arrays from `arrays`; None: nothing to check.
    fn check(self, arrays: &str) -> Option<String> {
        let first = arrays.split(", ").next().unwrap_or_default();
        let over_cap = |name: &str, key: &str| {
            format!(
                "NOT EXISTS (SELECT 1 FROM {name} c JOIN UNNEST({arrays}) AS q(key, day, n, cap) \
                 ON c.{key} = q.key AND c.day = q.day WHERE c.count > q.cap)"
            )
        };
        match self {
            Part::SettledJobs => Some(format!(
                "(SELECT count(*) FROM settled_jobs) = cardinality({first})"
            )),
            Part::PhoneSends => Some(over_cap("phone_sends", "phone")),
            Part::OrgSends => Some(over_cap("org_sends", "org_id")),
            Part::Events | Part::Users | Part::Jobs => None,
        }
    }
}

/// The batch's sends added to each key's count of the day in `table`. Whether a count went past its cap is the
/// statement's final check: counting up to the cap commit by commit, and refusing the rest, is the one-by-one
/// path's work.
fn counted(name: &str, table: &str, key: &str, arrays: &str) -> String {
    format!(
        "{name} AS (INSERT INTO {table} ({key}, day, count) SELECT key, day, n FROM UNNEST({arrays}) \
         AS q(key, day, n, cap) ON CONFLICT ({key}, day) DO UPDATE SET count = {table}.count + excluded.count \
         RETURNING {key}, day, count)"
    )
}

/// The statement that writes `parts` (in `PARTS` order; their arrays numbered in that order). None for no
/// parts.
pub(super) fn batch_statement(parts: &[Part]) -> Option<&'static str> {
    static STATEMENTS: LazyLock<Vec<String>> =
        LazyLock::new(|| (0..1 << PARTS.len()).map(build).collect());
    let mask = parts.iter().fold(0, |mask, part| mask | part.bit());
    match mask {
        0 => None,
        _ => STATEMENTS.get(mask).map(String::as_str),
    }
}

/// The statement for the parts whose bits are set in `mask`.
///
/// The `WITH` queries all run to completion whatever the final `SELECT` reads. That `SELECT` is where the
/// batch's checks are made: a job no longer under its lease (fewer jobs settled than the batch settles), a
/// count past its cap. When one fails it divides by zero, which fails the statement and so undoes all of it;
/// the writer then writes the batch one commit at a time, which tells whose lease ran out or which send went
/// past the cap. Plain SQL has no other way to fail a statement on a condition.
fn build(mask: usize) -> String {
    let mut next = 1;
    let mut queries = Vec::new();
    let mut checks = Vec::new();
    for part in PARTS.iter().filter(|p| mask & p.bit() != 0) {
        let types = part.element_types();
        let arrays: Vec<String> = types
            .iter()
            .enumerate()
            .map(|(i, t)| format!("${}::{t}[]", next + i))
            .collect();
        let arrays = arrays.join(", ");
        checks.extend(part.check(&arrays));
        queries.push(part.queries(&arrays));
        next += types.len();
    }
    let check = match checks.is_empty() {
        true => "SELECT 1".to_owned(),
        false => format!("SELECT 1 / ({})::int", checks.join(" AND ")),
    };
    format!("WITH {} {check}", queries.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_are_numbered_across_the_parts_in_order() {
        let Some(sql) = batch_statement(&[Part::SettledJobs, Part::Events]) else {
            panic!("two parts make a statement");
        };
        assert!(sql.starts_with("WITH written_events AS (INSERT INTO events"));
        assert!(sql.contains("UNNEST($1::text[], $2::text[], $3::bigint[]"));
        assert!(sql.contains("$8::bigint[]) WITH ORDINALITY"));
        assert!(sql.contains("UNNEST($9::text[], $10::text[], $11::bigint[]"));
        assert!(sql.ends_with("= cardinality($9::text[]))::int"));
        assert!(!sql.contains("$16"));
    }

    #[test]
    fn counts_are_checked_against_their_caps() {
        let Some(sql) = batch_statement(&[Part::Events, Part::PhoneSends, Part::OrgSends]) else {
            panic!("three parts make a statement");
        };
        assert!(sql.contains(
            "INSERT INTO sms_daily (phone, day, count) SELECT key, day, n FROM UNNEST($9::text[]"
        ));
        assert!(sql.contains("INSERT INTO sms_org_daily (org_id, day, count) SELECT key, day, n FROM UNNEST($13::text[]"));
        assert!(sql.contains("SELECT 1 / (NOT EXISTS (SELECT 1 FROM phone_sends c"));
        assert!(sql.contains("AND NOT EXISTS (SELECT 1 FROM org_sends c"));
        assert!(sql.contains("$16::bigint[]"));
        assert!(!sql.contains("$17"));
    }

    #[test]
    fn without_settled_jobs_or_counts_nothing_is_checked() {
        let Some(sql) = batch_statement(&[Part::Events, Part::Users, Part::Jobs]) else {
            panic!("three parts make a statement");
        };
        assert!(sql.ends_with(") SELECT 1"));
        assert!(sql.contains("$42::bigint[]"));
        assert!(!sql.contains("$43"));
        assert!(batch_statement(&[]).is_none());
    }
}

//! Every statement the store runs. Both backends run this same text (SQLite understands `$N` placeholders);
//! only the few statements named for a backend differ, where their locking differs.

// Column lists are macros so that `concat!` can build whole statements as constants.
macro_rules! user_columns {
    () => {
        "id, org_id, username, state, kind, given_name, family_name, display_name, nick_name, \
         preferred_language, email, email_verified, machine_name, machine_description, phone, phone_verified, \
         code_sequence, code_hash, code_created_at, code_expires_at, code_attempts, code_delivery, sequence, \
         created_at, changed_at, last_sms_at"
    };
}

macro_rules! event_columns {
    () => {
        "position, aggregate_type, aggregate_id, sequence, event_type, payload, resource_owner, creator, created_at"
    };
}

macro_rules! job_columns {
    () => {
        "id, user_id, code_sequence, phone, encrypted_code, language, attempts, expires_at, created_at, locked_until"
    };
}

pub(crate) const PING: &str = "SELECT 1";

pub(crate) const SELECT_INSTANCE: &str =
    "SELECT default_org_id, admin_user_id FROM instance WHERE id = $1";

pub(crate) const INSERT_INSTANCE: &str =
    "INSERT INTO instance (id, default_org_id, admin_user_id) VALUES ($1, $2, $3)";

pub(crate) const SELECT_USER: &str =
    concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");

/// A user with its memberships in one round trip (one row per membership; none: NULLs), for authentication.
pub(crate) const SELECT_USER_WITH_MEMBERSHIPS: &str = concat!(
    "SELECT ",
    user_columns!(),
    ", scope AS membership_scope, roles AS membership_roles FROM users \
     LEFT JOIN memberships ON memberships.user_id = users.id WHERE users.id = $1"
);

/// The users that a batch of lookups wants (`$1`), each with its memberships where `$2` says so, with each
/// row's place among them (1-based) as `wanted`: one row per user and membership, NULLs for none.
pub(crate) const SELECT_WANTED_USERS: &str = concat!(
    "SELECT k.n AS wanted, ",
    user_columns!(),
    ", scope AS membership_scope, roles AS membership_roles \
     FROM UNNEST($1::text[], $2::boolean[]) WITH ORDINALITY AS k(wanted_id, with_memberships, n) \
     JOIN users ON users.id = k.wanted_id \
     LEFT JOIN memberships ON k.with_memberships AND memberships.user_id = users.id"
);

pub(crate) const SELECT_USERS: &str = concat!("SELECT ", user_columns!(), " FROM users");

// COUNT(*) is BIGINT on both backends (a bare `1` is INT4 on Postgres).
pub(crate) const COUNT_USERNAME: &str =
    "SELECT COUNT(*) FROM users WHERE lower(username) = lower($1) AND state <> 'removed'";

/// What an upsert of a user overwrites: every column after `id`, as the row is the aggregate's latest fold.
macro_rules! user_upsert_set {
    () => {
        " ON CONFLICT (id) DO UPDATE SET \
     org_id = excluded.org_id, \
     username = excluded.username, state = excluded.state, kind = excluded.kind, given_name = excluded.given_name, \
     family_name = excluded.family_name, display_name = excluded.display_name, nick_name = excluded.nick_name, \
     preferred_language = excluded.preferred_language, email = excluded.email, \
     email_verified = excluded.email_verified, machine_name = excluded.machine_name, \
     machine_description = excluded.machine_description, phone = excluded.phone, \
     phone_verified = excluded.phone_verified, code_sequence = excluded.code_sequence, \
     code_hash = excluded.code_hash, code_created_at = excluded.code_created_at, \
     code_expires_at = excluded.code_expires_at, code_attempts = excluded.code_attempts, \
     code_delivery = excluded.code_delivery, sequence = excluded.sequence, created_at = excluded.created_at, \
     changed_at = excluded.changed_at, last_sms_at = excluded.last_sms_at"
    };
}

pub(crate) const UPSERT_USER: &str = concat!(
    "INSERT INTO users (",
    user_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
     $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)",
    user_upsert_set!()
);

/// `UPSERT_USER`'s parameters, for a user whose row exists with the same org, username and state: the columns
/// those indexes cover are not written, so SQLite leaves the index pages alone (writing a column, even with
/// the value it has, rewrites its index entries). Changes no row otherwise, and `UPSERT_USER` follows.
pub(crate) const UPDATE_USER_KEEPING_KEYS: &str = "UPDATE users SET kind = $5, given_name = $6, \
     family_name = $7, display_name = $8, nick_name = $9, preferred_language = $10, email = $11, \
     email_verified = $12, machine_name = $13, machine_description = $14, phone = $15, phone_verified = $16, \
     code_sequence = $17, code_hash = $18, code_created_at = $19, code_expires_at = $20, code_attempts = $21, \
     code_delivery = $22, sequence = $23, created_at = $24, changed_at = $25, last_sms_at = $26 \
     WHERE id = $1 AND org_id = $2 AND username = $3 AND state = $4";

pub(crate) const SELECT_ORG: &str =
    "SELECT id, name, sequence, created_at, changed_at FROM orgs WHERE id = $1";

pub(crate) const SELECT_ORGS: &str = "SELECT id, name, sequence, created_at, changed_at FROM orgs";

pub(crate) const COUNT_ORG_NAME: &str = "SELECT COUNT(*) FROM orgs WHERE lower(name) = lower($1)";

/// `created_at` is kept: an org's creation time does not move when it changes.
pub(crate) const UPSERT_ORG: &str = "INSERT INTO orgs (id, name, sequence, created_at, changed_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
     sequence = excluded.sequence, changed_at = excluded.changed_at";

pub(crate) const SELECT_MEMBERSHIPS_OF_USER: &str =
    "SELECT user_id, scope, roles FROM memberships WHERE user_id = $1";

pub(crate) const SELECT_MEMBERSHIPS: &str = "SELECT user_id, scope, roles FROM memberships";

pub(crate) const SELECT_ACTIVE_MEMBERSHIPS_IN_SCOPE: &str = "SELECT memberships.user_id, scope, roles \
     FROM memberships JOIN users ON users.id = memberships.user_id WHERE scope = $1 AND users.state = $2";

pub(crate) const UPSERT_MEMBERSHIP: &str = "INSERT INTO memberships (user_id, scope, roles) \
     VALUES ($1, $2, $3) ON CONFLICT (user_id, scope) DO UPDATE SET roles = excluded.roles";

pub(crate) const SELECT_PAT: &str =
    "SELECT token_id, user_id, expires_at FROM personal_access_tokens WHERE token_id = $1";

pub(crate) const SELECT_PATS: &str =
    "SELECT token_id, user_id, expires_at FROM personal_access_tokens";

pub(crate) const INSERT_PAT: &str =
    "INSERT INTO personal_access_tokens (token_id, user_id, expires_at) VALUES ($1, $2, $3)";

pub(crate) const DELETE_PAT: &str = "DELETE FROM personal_access_tokens WHERE token_id = $1";

/// A duplicate (aggregate_id, sequence) is a unique violation: the `Conflict` that makes writers retry.
pub(crate) const INSERT_EVENT: &str = "INSERT INTO events (aggregate_type, aggregate_id, sequence, \
     event_type, payload, resource_owner, creator, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

pub(crate) const SELECT_EVENTS_OF_AGGREGATE: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE aggregate_id = $1 ORDER BY sequence"
);

/// A page of an aggregate's history after the sequence `$2`, oldest first.
pub(crate) const SELECT_EVENTS_AFTER: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE aggregate_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3"
);

/// A page of an aggregate's history before the sequence `$2`, newest first.
pub(crate) const SELECT_EVENTS_BEFORE: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE aggregate_id = $1 AND sequence < $2 ORDER BY sequence DESC LIMIT $3"
);

pub(crate) const SELECT_ALL_EVENTS: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events ORDER BY position"
);

pub(crate) const LAST_SEQUENCE: &str = "SELECT MAX(sequence) FROM events WHERE aggregate_id = $1";

/// First writer wins: a process that lost the race reads the winner's value.
pub(crate) const INSERT_SECRET: &str = "INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) \
     ON CONFLICT (name) DO NOTHING";

pub(crate) const SELECT_SECRET: &str = "SELECT value FROM secrets WHERE name = $1";

/// `$1` is a prefix followed by `%` (in the names we use, `_` matches itself among others: harmless).
pub(crate) const SECRETS_LIKE: &str =
    "SELECT name, value, created_at FROM secrets WHERE name LIKE $1 ORDER BY created_at";

pub(crate) const REPLACE_SECRET: &str =
    "UPDATE secrets SET value = $3 WHERE name = $1 AND value = $2";

/// A new job is due at once; `$7` (its creation time) is also its first attempt and last update.
pub(crate) const INSERT_JOB: &str = "INSERT INTO sms_jobs (id, user_id, code_sequence, phone, \
     encrypted_code, language, state, attempts, next_attempt_at, locked_until, expires_at, last_error, \
     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, 0, $8, NULL, $7, $7)";

/// A new code for user `$1` at `$6` rewrites a job of theirs that is queued, due and held by no worker, instead
/// of a job being added: the replaced code must not go out, and one row rewritten in place costs the commit
/// far less than marking the old job dropped and adding another (which also left a dead row per resend). The
/// job keeps its id and its place in the queue (no indexed column changes); the id is ours alone, no provider
/// sees it. A job being sent right now, or waiting to be retried, is left as it is: the worker drops it when
/// it sees the newer code. The `+` keeps SQLite from looking the job up through `sms_jobs_due` (every due
/// job) instead of `sms_jobs_pending_by_user` (this user's).
///
/// The conditions are checked again on the row being updated, so that on Postgres a job a worker leased
/// meanwhile is left alone. They are one `CASE` so that no planner can use them to pick an index: as plain
/// conditions they matched `sms_jobs_pending_by_user`'s predicate and `sms_jobs_due`'s columns, and Postgres,
/// planning on a table that was still small, scanned every pending job instead of the one the subquery named.
pub(crate) const REPLACE_QUEUED_JOB: &str = "UPDATE sms_jobs SET code_sequence = $2, phone = $3, \
     encrypted_code = $4, language = $5, attempts = 0, locked_until = 0, expires_at = $7, last_error = NULL, \
     created_at = $6, updated_at = $6 \
     WHERE id = (SELECT id FROM sms_jobs WHERE user_id = $1 AND state = 'pending' AND locked_until <= $6 \
     AND +next_attempt_at <= $6 LIMIT 1) \
     AND CASE WHEN state = 'pending' AND locked_until <= $6 AND next_attempt_at <= $6 THEN 1 ELSE 0 END = 1";

/// A settled job no longer needs its code: the sealed copy is wiped. The update applies only under the lease it
/// was made for (`$7`), so a worker that overran its lease cannot undo another's work.
pub(crate) const UPDATE_JOB: &str = "UPDATE sms_jobs SET state = $2, attempts = $3, next_attempt_at = $4, \
     last_error = $5, updated_at = $6, locked_until = 0, \
     encrypted_code = CASE WHEN $2 = 'pending' THEN encrypted_code ELSE '' END \
     WHERE id = $1 AND locked_until = $7";

/// Counts the send only while the number is under its cap (`$3`); no row back means the cap is reached.
pub(crate) const COUNT_SMS: &str = "INSERT INTO sms_daily (phone, day, count) VALUES ($1, $2, 1) \
     ON CONFLICT (phone, day) DO UPDATE SET count = sms_daily.count + 1 WHERE sms_daily.count < $3 \
     RETURNING count";

/// Counts the send only while the organization is under its budget (`$3`); no row back means it is spent.
pub(crate) const COUNT_ORG_SMS: &str = "INSERT INTO sms_org_daily (org_id, day, count) VALUES ($1, $2, 1) \
     ON CONFLICT (org_id, day) DO UPDATE SET count = sms_org_daily.count + 1 WHERE sms_org_daily.count < $3 \
     RETURNING count";

/// Leases (`$1`) up to `$3` pending jobs due at `$2` whose lease has run out.
pub(crate) const CLAIM_JOBS_SQLITE: &str = concat!(
    "UPDATE sms_jobs SET locked_until = $1 WHERE id IN (SELECT id FROM sms_jobs WHERE state = 'pending' \
     AND next_attempt_at <= $2 AND locked_until <= $2 ORDER BY next_attempt_at LIMIT $3) RETURNING ",
    job_columns!()
);

/// As `CLAIM_JOBS_SQLITE`; SKIP LOCKED lets concurrent workers lease different jobs instead of queueing on the
/// same rows.
pub(crate) const CLAIM_JOBS_POSTGRES: &str = concat!(
    "UPDATE sms_jobs SET locked_until = $1 WHERE id IN (SELECT id FROM sms_jobs WHERE state = 'pending' \
     AND next_attempt_at <= $2 AND locked_until <= $2 ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING ",
    job_columns!()
);

pub(crate) const COUNT_JOBS_BY_STATE: &str = "SELECT state, COUNT(*) FROM sms_jobs GROUP BY state";

/// Deletes up to `$2` jobs settled before `$1`. A settled job's `next_attempt_at` is when it was settled, so
/// `sms_jobs_due` (state, next_attempt_at) leads straight to them: a pass reads what it deletes, not the table.
pub(crate) const PRUNE_SETTLED_JOBS: &str = "DELETE FROM sms_jobs WHERE id IN (SELECT id FROM sms_jobs \
     WHERE state IN ('sent', 'failed', 'dropped') AND next_attempt_at < $1 LIMIT $2)";

/// Deletes up to `$2` per-number daily counts of days before `$1` (`YYYY-MM-DD`, as the counts' days).
pub(crate) const PRUNE_PHONE_DAYS: &str = "DELETE FROM sms_daily WHERE (phone, day) IN \
     (SELECT phone, day FROM sms_daily WHERE day < $1 LIMIT $2)";

/// As `PRUNE_PHONE_DAYS`, for the organizations' daily counts.
pub(crate) const PRUNE_ORG_DAYS: &str = "DELETE FROM sms_org_daily WHERE (org_id, day) IN \
     (SELECT org_id, day FROM sms_org_daily WHERE day < $1 LIMIT $2)";

/// 1 when a daily count of a day before `$1` is left, else 0 (a read, as `ANY_SETTLED_JOB_BEFORE`).
pub(crate) const ANY_DAY_BEFORE: &str = "SELECT COUNT(*) FROM (SELECT day FROM sms_daily WHERE day < $1 \
     UNION ALL SELECT day FROM sms_org_daily WHERE day < $1 LIMIT 1) AS due";

/// 1 when a job was settled before `$1`, else 0: a read, so that a pass with nothing to delete never takes a
/// turn on the write connection.
pub(crate) const ANY_SETTLED_JOB_BEFORE: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM sms_jobs \
     WHERE state IN ('sent', 'failed', 'dropped') AND next_attempt_at < $1 LIMIT 1) AS due";

/// A leased job is due again when its lease ends, if that is later than its next attempt.
pub(crate) const NEXT_JOB_DUE: &str = "SELECT MIN(CASE WHEN locked_until > next_attempt_at THEN locked_until \
     ELSE next_attempt_at END) FROM sms_jobs WHERE state = 'pending'";

/// Writers take SQLite's write lock up front: a deferred transaction that reads first could not upgrade
/// once another connection committed, and would fail instead of waiting.
pub(crate) const BEGIN_WRITE_SQLITE: &str = "BEGIN IMMEDIATE";

pub(crate) const BEGIN_WRITE_POSTGRES: &str = "BEGIN";

/// Keeps appends out while a rebuild reads the log (SQLite's `BEGIN IMMEDIATE` already does).
pub(crate) const LOCK_EVENTS_POSTGRES: &str = "LOCK TABLE events IN EXCLUSIVE MODE";

/// Moves the write stamp on (migration 0006) and gives its new value. Every write to the projections does,
/// in its own transaction.
pub(crate) const BUMP_WRITE_STAMP: &str =
    "UPDATE write_stamp SET n = n + 1 WHERE id = 1 RETURNING n";

pub(crate) const SELECT_WRITE_STAMP: &str = "SELECT n FROM write_stamp WHERE id = 1";

/// Before a rebuild refills them: every projection table emptied, and the write stamp moved on, since rows
/// kept in memory (the SQLite lookups) are no longer current.
pub(crate) const RESET_PROJECTIONS: [&str; 6] = [
    BUMP_WRITE_STAMP,
    "DELETE FROM users",
    "DELETE FROM orgs",
    "DELETE FROM memberships",
    "DELETE FROM instance",
    "DELETE FROM personal_access_tokens",
];

/// The users table's columns in the order of `UPSERT_USER`'s parameters, for statements built elsewhere.
pub(crate) const USER_COLUMNS: &str = user_columns!();

/// What `UPSERT_USER` sets when the user is already there.
pub(crate) const USER_UPSERT_SET: &str = user_upsert_set!();

//! Every statement both backends run. SQLite understands Postgres' `$N` placeholders, so one text serves both;
//! the few statements that differ per backend are passed to `store_impl!` by each backend.

pub(crate) const SELECT_USER: &str = "SELECT id, org_id, username, state, kind, given_name, family_name, \
     display_name, nick_name, preferred_language, email, email_verified, machine_name, machine_description, phone, \
     phone_verified, code_sequence, code_hash, code_created_at, code_expires_at, code_attempts, code_delivery, \
     sequence, created_at, changed_at, last_sms_at FROM users WHERE id = $1";

pub(crate) const SELECT_ALL_USERS: &str = "SELECT id, org_id, username, state, kind, given_name, family_name, \
     display_name, nick_name, preferred_language, email, email_verified, machine_name, machine_description, phone, \
     phone_verified, code_sequence, code_hash, code_created_at, code_expires_at, code_attempts, code_delivery, \
     sequence, created_at, changed_at, last_sms_at FROM users";

/// Every column after `id` is overwritten: the row is the aggregate's latest fold.
pub(crate) const UPSERT_USER: &str = "INSERT INTO users (id, org_id, username, state, kind, given_name, family_name, \
     display_name, nick_name, preferred_language, email, email_verified, machine_name, machine_description, phone, \
     phone_verified, code_sequence, code_hash, code_created_at, code_expires_at, code_attempts, code_delivery, \
     sequence, created_at, changed_at, last_sms_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
     $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26) ON CONFLICT (id) DO UPDATE SET \
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
     changed_at = excluded.changed_at, last_sms_at = excluded.last_sms_at";

/// Removed users free their username (case-insensitive). COUNT(*) is BIGINT on both backends (a bare `1` is
/// INT4 on Postgres).
pub(crate) const USERNAME_TAKEN: &str =
    "SELECT COUNT(*) FROM users WHERE lower(username) = lower($1) AND state <> 'removed'";

pub(crate) const SELECT_ORG: &str =
    "SELECT id, name, sequence, created_at, changed_at FROM orgs WHERE id = $1";
pub(crate) const SELECT_ALL_ORGS: &str =
    "SELECT id, name, sequence, created_at, changed_at FROM orgs";
pub(crate) const ORG_NAME_TAKEN: &str = "SELECT COUNT(*) FROM orgs WHERE lower(name) = lower($1)";
pub(crate) const UPSERT_ORG: &str = "INSERT INTO orgs (id, name, sequence, created_at, changed_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
     sequence = excluded.sequence, changed_at = excluded.changed_at";

pub(crate) const SELECT_MEMBERSHIPS: &str =
    "SELECT user_id, scope, roles FROM memberships WHERE user_id = $1";
pub(crate) const SELECT_ALL_MEMBERSHIPS: &str = "SELECT user_id, scope, roles FROM memberships";
pub(crate) const UPSERT_MEMBERSHIP: &str = "INSERT INTO memberships (user_id, scope, roles) VALUES ($1, $2, $3) \
     ON CONFLICT (user_id, scope) DO UPDATE SET roles = excluded.roles";

pub(crate) const SELECT_PAT: &str =
    "SELECT token_id, user_id, expires_at FROM personal_access_tokens WHERE token_id = $1";
pub(crate) const SELECT_ALL_PATS: &str =
    "SELECT token_id, user_id, expires_at FROM personal_access_tokens";
pub(crate) const INSERT_PAT: &str =
    "INSERT INTO personal_access_tokens (token_id, user_id, expires_at) VALUES ($1, $2, $3)";
pub(crate) const DELETE_PAT: &str = "DELETE FROM personal_access_tokens WHERE token_id = $1";

pub(crate) const SELECT_INSTANCE: &str =
    "SELECT default_org_id, admin_user_id FROM instance WHERE id = $1";
pub(crate) const INSERT_INSTANCE: &str =
    "INSERT INTO instance (id, default_org_id, admin_user_id) VALUES ($1, $2, $3)";

/// The tables a rebuild empties and refills from the event log.
pub(crate) const PROJECTION_TABLES: [&str; 5] = [
    "users",
    "orgs",
    "memberships",
    "instance",
    "personal_access_tokens",
];

/// The unique (aggregate_id, sequence) key makes a concurrent writer's append fail instead of being lost.
pub(crate) const INSERT_EVENT: &str = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
     payload, resource_owner, creator, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
pub(crate) const SELECT_AGGREGATE_EVENTS: &str = "SELECT position, aggregate_type, aggregate_id, sequence, \
     event_type, payload, resource_owner, creator, created_at FROM events WHERE aggregate_id = $1 ORDER BY sequence";
pub(crate) const SELECT_ALL_EVENTS: &str = "SELECT position, aggregate_type, aggregate_id, sequence, event_type, \
     payload, resource_owner, creator, created_at FROM events ORDER BY position";
pub(crate) const LAST_SEQUENCE: &str = "SELECT MAX(sequence) FROM events WHERE aggregate_id = $1";

pub(crate) const JOB_COLUMNS: &str = "id, user_id, code_sequence, phone, encrypted_code, language, attempts, \
     expires_at, created_at, locked_until";
pub(crate) const INSERT_JOB: &str = "INSERT INTO sms_jobs (id, user_id, code_sequence, phone, encrypted_code, \
     language, state, attempts, next_attempt_at, locked_until, expires_at, last_error, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, 0, $8, NULL, $7, $7)";
/// A settled job no longer needs its code: the sealed copy is wiped. The update applies only under the lease it
/// was made for, so a worker that overran its lease cannot undo another's work.
pub(crate) const UPDATE_JOB: &str = "UPDATE sms_jobs SET state = $2, attempts = $3, next_attempt_at = $4, \
     last_error = $5, updated_at = $6, locked_until = 0, \
     encrypted_code = CASE WHEN $2 = 'pending' THEN encrypted_code ELSE '' END \
     WHERE id = $1 AND locked_until = $7";
pub(crate) const JOB_COUNTS: &str = "SELECT state, COUNT(*) FROM sms_jobs GROUP BY state";
pub(crate) const NEXT_JOB_DUE: &str = "SELECT MIN(CASE WHEN locked_until > next_attempt_at THEN locked_until \
     ELSE next_attempt_at END) FROM sms_jobs WHERE state = 'pending'";

/// Counts a send only while the number is under its cap; no row back means the cap is reached.
pub(crate) const COUNT_DAILY_SMS: &str = "INSERT INTO sms_daily (phone, day, count) VALUES ($1, $2, 1) \
     ON CONFLICT (phone, day) DO UPDATE SET count = sms_daily.count + 1 WHERE sms_daily.count < $3 RETURNING count";

/// The first writer of a secret wins; everyone reads what it wrote.
pub(crate) const INSERT_SECRET: &str = "INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING";
pub(crate) const SELECT_SECRET: &str = "SELECT value FROM secrets WHERE name = $1";

pub(crate) const PING: &str = "SELECT 1";

-- The append-only source of truth. (aggregate_id, sequence) is unique: two writers that read the same
-- state cannot both append, and the loser retries on fresh state.
CREATE TABLE events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT,
    resource_owner TEXT NOT NULL,
    creator TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (aggregate_id, sequence)
);

-- Projections, updated in the same transaction as the events they fold. Times are microseconds since 1970.
CREATE TABLE instance (
    id TEXT PRIMARY KEY,
    default_org_id TEXT NOT NULL,
    admin_user_id TEXT NOT NULL
);

CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    changed_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX orgs_name ON orgs (lower(name));

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    username TEXT NOT NULL,
    state TEXT NOT NULL,
    kind TEXT NOT NULL,
    given_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    nick_name TEXT NOT NULL,
    preferred_language TEXT NOT NULL,
    email TEXT NOT NULL,
    email_verified BOOLEAN NOT NULL,
    machine_name TEXT NOT NULL,
    machine_description TEXT NOT NULL,
    phone TEXT,
    phone_verified BOOLEAN NOT NULL,
    code_sequence BIGINT,
    code_hash TEXT,
    code_created_at BIGINT,
    code_expires_at BIGINT,
    code_attempts BIGINT,
    code_delivery TEXT,
    sequence BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    changed_at BIGINT NOT NULL
);
-- A username is taken while its user exists; a removed user frees it.
CREATE UNIQUE INDEX users_username ON users (lower(username)) WHERE state <> 'removed';
CREATE INDEX users_org ON users (org_id);

CREATE TABLE memberships (
    user_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    roles TEXT NOT NULL,
    PRIMARY KEY (user_id, scope)
);

-- Key material generated on first start (signing key, code HMAC key, job encryption key).
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The SMS outbox: written in the same transaction as the code event it delivers.
CREATE TABLE sms_jobs (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    code_sequence BIGINT NOT NULL,
    phone TEXT NOT NULL,
    encrypted_code TEXT NOT NULL,
    language TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX sms_jobs_due ON sms_jobs (state, next_attempt_at);

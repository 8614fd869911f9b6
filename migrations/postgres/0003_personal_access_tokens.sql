-- Personal access tokens of machine users: a token authenticates only while its row exists.
CREATE TABLE personal_access_tokens (
    token_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX personal_access_tokens_user ON personal_access_tokens (user_id);

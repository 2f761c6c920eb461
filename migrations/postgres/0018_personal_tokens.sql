-- Personal access tokens: a person's own credential for the reviewer API.
-- Only the SHA-256 of the secret is stored (like agent keys); `prefix` is
-- its first characters, so people can tell tokens apart. A token acts as
-- its person with their role as it is at each call; `scope` only narrows
-- it (`read` never decides). Every token expires.
CREATE TABLE personal_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('read', 'decide')),
    prefix       TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX personal_tokens_user ON personal_tokens (user_id, created_at);

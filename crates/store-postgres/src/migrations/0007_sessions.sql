-- Browser sessions (core::store::sessions): the SHA-256 of each cookie, never the
-- cookie itself, with its user, the user's token version, and its times.
CREATE TABLE web_session (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    token_version BIGINT NOT NULL,
    method        TEXT NOT NULL,
    client        TEXT,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX web_session_expires ON web_session (expires_at);
CREATE INDEX web_session_seen ON web_session (last_seen_at);

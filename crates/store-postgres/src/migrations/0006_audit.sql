-- The audit trail: security events in order, each with the SHA-256 of the one before
-- it (core::store::audit), so an edit or a deletion is detectable. Appends take an
-- advisory lock, so the nodes' entries form one chain.
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    time      BIGINT NOT NULL,
    principal TEXT NOT NULL,
    client    TEXT,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (time);

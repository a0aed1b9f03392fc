-- Secrets and environment variables. Values are sealed (AES-256-GCM) by the core
-- before they reach the store; `key_id` names the master key that sealed each one.
CREATE TABLE secret_value (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    key_id TEXT NOT NULL,
    sealed BLOB NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
) WITHOUT ROWID;

-- Every read of a value through the API: who, when, which.
CREATE TABLE secret_read (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    principal TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX secret_read_name ON secret_read (kind, name, id);

-- Access control: applications, access keys, users and groups as JSON records,
-- grants and owners as rows. The whole set is read at start-up into memory.
CREATE TABLE security_record (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;

CREATE TABLE access_grant (
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    access INTEGER NOT NULL,
    PRIMARY KEY (target_type, target_id, subject_type, subject_id)
) WITHOUT ROWID;

CREATE TABLE resource_owner (
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    PRIMARY KEY (target_type, target_id)
) WITHOUT ROWID;

-- When each access key was last used, kept apart so the key record is not rewritten.
CREATE TABLE access_key_use (
    key_id TEXT PRIMARY KEY,
    last_used_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Podium's shared store on PostgreSQL, first schema: the same tables as the embedded
-- store, so one conformance suite describes both. Executions are JSON documents kept
-- as text (written and read whole, never reordered) with the columns that queries
-- need beside them.

CREATE TABLE task_def (
    name        TEXT PRIMARY KEY,
    json        TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE TABLE workflow_def (
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    revision    TEXT NOT NULL,
    json        TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

-- Every definition a workflow ever ran, immutable, addressed by revision id.
CREATE TABLE def_revision (
    revision TEXT PRIMARY KEY,
    json     TEXT NOT NULL
);

CREATE TABLE tag (
    resource_type TEXT NOT NULL,
    name          TEXT NOT NULL,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    tag_type      TEXT,
    PRIMARY KEY (resource_type, name, key, value)
);

CREATE TABLE workflow (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    version            INTEGER NOT NULL,
    status             TEXT NOT NULL,
    correlation_id     TEXT,
    parent_workflow_id TEXT,
    parent_task_id     TEXT,
    idempotency_key    TEXT,
    priority           INTEGER NOT NULL,
    created_by         TEXT,
    create_time        BIGINT NOT NULL,
    start_time         BIGINT NOT NULL,
    end_time           BIGINT NOT NULL,
    update_time        BIGINT NOT NULL,
    next_check_at      BIGINT,
    def_revision       TEXT NOT NULL,
    json               TEXT NOT NULL,
    -- Whose authority the run carries besides its starter's (JSON; NULL for none).
    authority          TEXT
);
CREATE INDEX workflow_name_status ON workflow (name, status);
CREATE INDEX workflow_status ON workflow (status);
CREATE INDEX workflow_start_time ON workflow (start_time);
CREATE INDEX workflow_correlation ON workflow (correlation_id) WHERE correlation_id IS NOT NULL;
CREATE INDEX workflow_next_check ON workflow (next_check_at) WHERE next_check_at IS NOT NULL;
CREATE UNIQUE INDEX workflow_idempotency ON workflow (name, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX workflow_parent_task ON workflow (parent_task_id) WHERE parent_task_id IS NOT NULL;

CREATE TABLE task (
    id             TEXT PRIMARY KEY,
    workflow_id    TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    ref_name       TEXT NOT NULL,
    task_type      TEXT NOT NULL,
    task_def_name  TEXT NOT NULL,
    status         TEXT NOT NULL,
    domain         TEXT,
    worker_id      TEXT,
    workflow_type  TEXT NOT NULL,
    scheduled_time BIGINT NOT NULL,
    start_time     BIGINT NOT NULL,
    end_time       BIGINT NOT NULL,
    update_time    BIGINT NOT NULL,
    json           TEXT NOT NULL
);
CREATE INDEX task_workflow ON task (workflow_id, seq);
CREATE INDEX task_type_status ON task (task_type, status);

-- Pollable worker tasks. A message is removed when its task is claimed; claims take
-- rows with FOR UPDATE SKIP LOCKED, so two nodes never hand out one task.
CREATE TABLE queue (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id     TEXT NOT NULL UNIQUE,
    queue_name  TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    priority    INTEGER NOT NULL,
    visible_at  BIGINT NOT NULL
);
CREATE INDEX queue_pop ON queue (queue_name, priority DESC, visible_at, id);
CREATE INDEX queue_workflow ON queue (workflow_id);

-- Work the server does itself (system tasks, notifications), leased while running,
-- so exactly one node runs each job.
CREATE TABLE job (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    task_id     TEXT,
    payload     TEXT NOT NULL,
    due_at      BIGINT NOT NULL,
    lease_until BIGINT
);
CREATE INDEX job_due ON job (due_at);
CREATE INDEX job_workflow ON job (workflow_id);

CREATE TABLE task_log (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id      TEXT NOT NULL,
    created_time BIGINT NOT NULL,
    log          TEXT NOT NULL
);
CREATE INDEX task_log_task ON task_log (task_id, id);

CREATE TABLE poll_data (
    task_type      TEXT NOT NULL,
    domain         TEXT NOT NULL,
    worker_id      TEXT NOT NULL,
    last_poll_time BIGINT NOT NULL,
    PRIMARY KEY (task_type, domain, worker_id)
);

-- Access control: applications, access keys, users and groups as JSON records,
-- grants and owners as rows. Every node reads the whole set into memory and reloads
-- it when another node signals a change.
CREATE TABLE security_record (
    kind TEXT NOT NULL,
    id   TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);

CREATE TABLE access_grant (
    target_type  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    access       BIGINT NOT NULL,
    PRIMARY KEY (target_type, target_id, subject_type, subject_id)
);

CREATE TABLE resource_owner (
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    owner       TEXT NOT NULL,
    PRIMARY KEY (target_type, target_id)
);

-- When each access key was last used, kept apart so the key record is not rewritten.
CREATE TABLE access_key_use (
    key_id       TEXT PRIMARY KEY,
    last_used_at BIGINT NOT NULL
);

-- Secrets and environment variables. Values are sealed (AES-256-GCM) by the core
-- before they reach the store; `key_id` names the master key that sealed each one.
CREATE TABLE secret_value (
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    sealed     BYTEA NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, name)
);

-- Every read of a value through the API: who, when, which.
CREATE TABLE secret_read (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind      TEXT NOT NULL,
    name      TEXT NOT NULL,
    principal TEXT NOT NULL,
    at        BIGINT NOT NULL
);
CREATE INDEX secret_read_name ON secret_read (kind, name, id);

-- Ended workflows moved out of the live tables after the retention: one row each,
-- the workflow with its tasks as redacted JSON. The columns match `workflow` so one
-- view serves searches over both.
CREATE TABLE archived_workflow (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    version            INTEGER NOT NULL,
    status             TEXT NOT NULL,
    correlation_id     TEXT,
    parent_workflow_id TEXT,
    parent_task_id     TEXT,
    idempotency_key    TEXT,
    priority           INTEGER NOT NULL,
    created_by         TEXT,
    create_time        BIGINT NOT NULL,
    start_time         BIGINT NOT NULL,
    end_time           BIGINT NOT NULL,
    update_time        BIGINT NOT NULL,
    next_check_at      BIGINT,
    def_revision       TEXT NOT NULL,
    json               TEXT NOT NULL,
    -- The key its `_masked` values are sealed with, if any.
    sealed_key         TEXT,
    authority          TEXT
);
CREATE INDEX archived_workflow_name_status ON archived_workflow (name, status);
CREATE INDEX archived_workflow_start_time ON archived_workflow (start_time);
CREATE INDEX archived_workflow_correlation ON archived_workflow (correlation_id) WHERE correlation_id IS NOT NULL;
CREATE INDEX archived_workflow_sealed_key ON archived_workflow (sealed_key) WHERE sealed_key IS NOT NULL;

CREATE VIEW workflow_all AS
    SELECT id, name, version, status, correlation_id, parent_workflow_id, parent_task_id,
           idempotency_key, priority, created_by, create_time, start_time, end_time,
           update_time, next_check_at, def_revision, json FROM workflow
    UNION ALL
    SELECT id, name, version, status, correlation_id, parent_workflow_id, parent_task_id,
           idempotency_key, priority, created_by, create_time, start_time, end_time,
           update_time, next_check_at, def_revision, json FROM archived_workflow;

-- The secrets master keys that live workflow and task rows may hold values sealed
-- with (recorded in the transaction that first seals a row with one).
CREATE TABLE payload_key (
    key_id TEXT PRIMARY KEY
);

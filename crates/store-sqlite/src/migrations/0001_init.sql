-- Podium embedded store, first schema.
-- Executions are JSON documents with the columns that queries need beside them.

CREATE TABLE task_def (
    name        TEXT PRIMARY KEY,
    json        TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL
);

CREATE TABLE workflow_def (
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    revision    TEXT NOT NULL,
    json        TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL,
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
    create_time        INTEGER NOT NULL,
    start_time         INTEGER NOT NULL,
    end_time           INTEGER NOT NULL,
    update_time        INTEGER NOT NULL,
    next_check_at      INTEGER,
    def_revision       TEXT NOT NULL,
    json               TEXT NOT NULL
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
    scheduled_time INTEGER NOT NULL,
    start_time     INTEGER NOT NULL,
    end_time       INTEGER NOT NULL,
    update_time    INTEGER NOT NULL,
    json           TEXT NOT NULL
);
CREATE INDEX task_workflow ON task (workflow_id, seq);
CREATE INDEX task_type_status ON task (task_type, status);

-- Pollable worker tasks. A message is removed when its task is claimed.
CREATE TABLE queue (
    id          INTEGER PRIMARY KEY,
    task_id     TEXT NOT NULL UNIQUE,
    queue_name  TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    priority    INTEGER NOT NULL,
    visible_at  INTEGER NOT NULL
);
CREATE INDEX queue_pop ON queue (queue_name, priority DESC, visible_at, id);

-- Work the server does itself (system tasks, notifications), leased while running.
CREATE TABLE job (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    task_id     TEXT,
    payload     TEXT NOT NULL,
    due_at      INTEGER NOT NULL,
    lease_until INTEGER
);
CREATE INDEX job_due ON job (due_at);

CREATE TABLE task_log (
    id           INTEGER PRIMARY KEY,
    task_id      TEXT NOT NULL,
    created_time INTEGER NOT NULL,
    log          TEXT NOT NULL
);
CREATE INDEX task_log_task ON task_log (task_id, id);

CREATE TABLE poll_data (
    task_type      TEXT NOT NULL,
    domain         TEXT NOT NULL,
    worker_id      TEXT NOT NULL,
    last_poll_time INTEGER NOT NULL,
    PRIMARY KEY (task_type, domain, worker_id)
);

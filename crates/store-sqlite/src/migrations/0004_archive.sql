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
    create_time        INTEGER NOT NULL,
    start_time         INTEGER NOT NULL,
    end_time           INTEGER NOT NULL,
    update_time        INTEGER NOT NULL,
    next_check_at      INTEGER,
    def_revision       TEXT NOT NULL,
    json               TEXT NOT NULL
);
CREATE INDEX archived_workflow_name_status ON archived_workflow (name, status);
CREATE INDEX archived_workflow_start_time ON archived_workflow (start_time);
CREATE INDEX archived_workflow_correlation ON archived_workflow (correlation_id) WHERE correlation_id IS NOT NULL;

CREATE VIEW workflow_all AS
    SELECT id, name, version, status, correlation_id, parent_workflow_id, parent_task_id,
           idempotency_key, priority, created_by, create_time, start_time, end_time,
           update_time, next_check_at, def_revision, json FROM workflow
    UNION ALL
    SELECT id, name, version, status, correlation_id, parent_workflow_id, parent_task_id,
           idempotency_key, priority, created_by, create_time, start_time, end_time,
           update_time, next_check_at, def_revision, json FROM archived_workflow;

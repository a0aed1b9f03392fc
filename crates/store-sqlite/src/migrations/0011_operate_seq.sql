-- Each execution's Operate sequence number (docs/adr/0006-operate-keys.md): given when
-- it is first stored, kept when it moves to the archive and back, never changed.
-- Executions stored before get theirs in creation order.
ALTER TABLE workflow ADD COLUMN operate_seq INTEGER;
ALTER TABLE archived_workflow ADD COLUMN operate_seq INTEGER;
CREATE TEMP TABLE operate_seq_backfill (id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
INSERT INTO operate_seq_backfill (id, seq)
    SELECT id, ROW_NUMBER() OVER (ORDER BY create_time, id)
    FROM (SELECT id, create_time FROM workflow UNION ALL SELECT id, create_time FROM archived_workflow);
UPDATE workflow SET operate_seq = (SELECT seq FROM operate_seq_backfill b WHERE b.id = workflow.id);
UPDATE archived_workflow
    SET operate_seq = (SELECT seq FROM operate_seq_backfill b WHERE b.id = archived_workflow.id);
-- The last number given: it only grows, so a number is never given twice, also
-- after the newest execution was deleted.
CREATE TABLE operate_seq_counter (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    n  INTEGER NOT NULL
);
INSERT INTO operate_seq_counter (id, n) VALUES (0, (SELECT COUNT(*) FROM operate_seq_backfill));
DROP TABLE operate_seq_backfill;
CREATE UNIQUE INDEX workflow_operate_seq ON workflow (operate_seq);
CREATE UNIQUE INDEX archived_workflow_operate_seq ON archived_workflow (operate_seq);

DROP VIEW workflow_all;
CREATE VIEW workflow_all AS
    SELECT id, name, version, status, correlation_id, parent_workflow_id, parent_task_id,
           idempotency_key, priority, created_by, create_time, start_time, end_time,
           update_time, next_check_at, def_revision, json, operate_seq FROM workflow
    UNION ALL
    SELECT id, name, version, status, correlation_id, parent_workflow_id, parent_task_id,
           idempotency_key, priority, created_by, create_time, start_time, end_time,
           update_time, next_check_at, def_revision, json, operate_seq FROM archived_workflow;

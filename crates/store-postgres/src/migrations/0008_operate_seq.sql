-- Each execution's Operate sequence number (docs/adr/0006-operate-keys.md): given when
-- it is first stored, kept when it moves to the archive and back, never changed.
-- Executions stored before get theirs in creation order.
CREATE SEQUENCE operate_seq_source;
ALTER TABLE workflow ADD COLUMN operate_seq BIGINT;
ALTER TABLE archived_workflow ADD COLUMN operate_seq BIGINT;
CREATE TEMP TABLE operate_seq_backfill ON COMMIT DROP AS
    SELECT id, ROW_NUMBER() OVER (ORDER BY create_time, id) AS seq
    FROM (SELECT id, create_time FROM workflow UNION ALL SELECT id, create_time FROM archived_workflow) AS every;
UPDATE workflow SET operate_seq = b.seq FROM operate_seq_backfill b WHERE b.id = workflow.id;
UPDATE archived_workflow SET operate_seq = b.seq FROM operate_seq_backfill b WHERE b.id = archived_workflow.id;
SELECT setval('operate_seq_source', GREATEST((SELECT COUNT(*) FROM operate_seq_backfill), 1),
              (SELECT COUNT(*) FROM operate_seq_backfill) > 0);
-- Rows written by a node of an older version during a rolling upgrade still get one.
ALTER TABLE workflow ALTER COLUMN operate_seq SET DEFAULT nextval('operate_seq_source');
ALTER TABLE archived_workflow ALTER COLUMN operate_seq SET DEFAULT nextval('operate_seq_source');
CREATE UNIQUE INDEX workflow_operate_seq ON workflow (operate_seq);
CREATE UNIQUE INDEX archived_workflow_operate_seq ON archived_workflow (operate_seq);

CREATE OR REPLACE VIEW workflow_all AS
    SELECT id, name, version, status, correlation_id, parent_workflow_id, parent_task_id,
           idempotency_key, priority, created_by, create_time, start_time, end_time,
           update_time, next_check_at, def_revision, json, operate_seq FROM workflow
    UNION ALL
    SELECT id, name, version, status, correlation_id, parent_workflow_id, parent_task_id,
           idempotency_key, priority, created_by, create_time, start_time, end_time,
           update_time, next_check_at, def_revision, json, operate_seq FROM archived_workflow;

-- When tasks of a rate-limited type were handed out, one row per task: a claim of
-- the type counts the rows of its window and removes the older ones, so the table
-- holds at most one window of hand-outs per limited type.
CREATE TABLE queue_handout (
    task_type TEXT NOT NULL,
    at        BIGINT NOT NULL
);
CREATE INDEX queue_handout_type_at ON queue_handout (task_type, at);

-- A limited claim counts the type's tasks in progress: only those rows are indexed.
CREATE INDEX task_in_progress ON task (task_type) WHERE status = 'IN_PROGRESS';

-- Workflow schedules: the API's definition as JSON, and when each is due next (NULL
-- while paused or once its expression matches no more).
CREATE TABLE schedule (
    name          TEXT PRIMARY KEY,
    workflow_name TEXT NOT NULL,
    next_run_at   BIGINT,
    json          TEXT NOT NULL
);
CREATE INDEX schedule_due ON schedule (next_run_at) WHERE next_run_at IS NOT NULL;
CREATE INDEX schedule_workflow ON schedule (workflow_name);

-- One row per due time acted on: unique per schedule and due time, so a due time
-- runs once, whatever the nodes and restarts.
CREATE TABLE schedule_run (
    id             TEXT PRIMARY KEY,
    schedule_name  TEXT NOT NULL,
    scheduled_time BIGINT NOT NULL,
    execution_time BIGINT NOT NULL,
    workflow_name  TEXT NOT NULL,
    state          TEXT NOT NULL,
    json           TEXT NOT NULL,
    UNIQUE (schedule_name, scheduled_time)
);
CREATE INDEX schedule_run_time ON schedule_run (scheduled_time);

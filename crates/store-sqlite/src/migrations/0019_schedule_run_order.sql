-- The other orders a search of schedule runs offers, and the filters it takes
-- with them, are read from indexes rather than sorted whole.
CREATE INDEX schedule_run_execution_time ON schedule_run (execution_time);
CREATE INDEX schedule_run_workflow ON schedule_run (workflow_name, scheduled_time);
CREATE INDEX schedule_run_state ON schedule_run (state, scheduled_time);

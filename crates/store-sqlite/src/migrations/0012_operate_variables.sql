-- The variables index (core::store::variables): each live or archived execution's
-- variables as people see them (masked, cut to Operate's search length), one row
-- per variable, for Operate's variable search across executions. Rows are written
-- with the unit of work that changes the variables; rows of executions stored
-- before are filled in by the migration step that follows this script (a live run
-- that masks anything shows its values as *** until its next unit of work).
CREATE TABLE operate_variable (
    operate_seq   INTEGER NOT NULL,
    low           INTEGER NOT NULL,
    name          TEXT NOT NULL,
    value         TEXT NOT NULL,
    truncated     INTEGER NOT NULL,
    workflow_name TEXT NOT NULL
);
CREATE INDEX operate_variable_key ON operate_variable (operate_seq, low);
CREATE INDEX operate_variable_name ON operate_variable (name, operate_seq, low);
CREATE INDEX operate_variable_workflow ON operate_variable (workflow_name);

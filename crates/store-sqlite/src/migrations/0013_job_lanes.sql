-- Script evaluations are claimed in a lane of their own (JobLane::Scripts = 1), every
-- other job in lane 0. A column, not a kind: a node of the version before claims
-- every job whatever its lane, and runs a script job as it always did.
ALTER TABLE job ADD COLUMN lane INTEGER NOT NULL DEFAULT 0;
CREATE INDEX job_lane ON job (lane, due_at);

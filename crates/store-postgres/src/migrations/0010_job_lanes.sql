-- Script evaluations are claimed in a lane of their own (JobLane::Scripts), and
-- every other job in the other lane: each claim walks its lane's jobs in due order.
CREATE INDEX job_lane ON job ((kind = 'SCRIPT'), due_at);

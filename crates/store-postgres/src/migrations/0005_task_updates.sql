-- A task's status changes at each of its steps (scheduled, in progress, ended), and
-- an update that changes an indexed column adds an entry to every index of the table
-- and cannot be written beside the old version. Searches by task type keep an index;
-- the status is filtered beside it. With room left on each page, a task's claim and
-- its result are then written in place, with no new index entries.
DROP INDEX task_type_status;
CREATE INDEX task_type ON task (task_type);
ALTER TABLE task SET (fillfactor = 70);

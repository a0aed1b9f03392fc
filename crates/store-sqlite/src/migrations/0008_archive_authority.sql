-- Whose authority an archived run carries besides its starter's, as `workflow.authority`
-- holds it for live runs, so a restart from the archive keeps its cosigners (NULL when
-- it records nothing, as for every run archived before this column existed).
ALTER TABLE archived_workflow ADD COLUMN authority TEXT;

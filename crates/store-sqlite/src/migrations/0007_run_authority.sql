-- Whose authority a workflow run carries besides its starter's (`created_by`): the
-- principals whose definitions it trusts as its starter's own choice, and the
-- authors of definitions it runs that its starter never approved (JSON; NULL when
-- it records nothing, as for every run started before this column existed).
ALTER TABLE workflow ADD COLUMN authority TEXT;

-- The key an archived workflow's `_masked` values are sealed with, so a master key
-- rotation finds the archived workflows to re-seal without reading the others.
-- Rows archived before this column existed are marked 'unknown' when they hold
-- sealed values; re-sealing reads the key of each value from the value itself.
ALTER TABLE archived_workflow ADD COLUMN sealed_key TEXT;
UPDATE archived_workflow SET sealed_key = 'unknown' WHERE json LIKE '%"$podiumSealed"%';
CREATE INDEX archived_workflow_sealed_key ON archived_workflow (sealed_key)
    WHERE sealed_key IS NOT NULL;

-- The secrets master keys that live workflow and task rows may hold `_secrets` and
-- `_masked` values sealed with. A key is recorded in the transaction that first
-- seals a row with it and forgotten after a rotation re-sealed every such row, so
-- a start with a key that cannot open them is refused without reading the rows.
-- Sealing at rest arrived with this table: no earlier row holds sealed values.
CREATE TABLE payload_key (
    key_id TEXT PRIMARY KEY
) WITHOUT ROWID;

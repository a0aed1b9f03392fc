-- Counters that change with every change of a kind, by any node: a node compares
-- the counter with the one its in-memory copy was read at before it computes a change
-- from that copy, and reads the data again when they differ.
CREATE TABLE podium_version (
    name    TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO podium_version (name, version) VALUES ('security', 0);

-- Schemas (Orkes' SchemaDef), one row per version.
CREATE TABLE schema_def (
    name    TEXT NOT NULL,
    version INTEGER NOT NULL,
    json    TEXT NOT NULL,
    PRIMARY KEY (name, version)
);

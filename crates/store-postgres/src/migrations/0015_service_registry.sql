-- The service registry: services, their methods, and the compiled proto files
-- gRPC methods are read from. Methods and protos go with their service.
CREATE TABLE registry_service (
    name TEXT PRIMARY KEY,
    json TEXT NOT NULL
);
CREATE TABLE registry_method (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service     TEXT NOT NULL REFERENCES registry_service (name) ON DELETE CASCADE,
    operation   TEXT NOT NULL,
    method      TEXT NOT NULL,
    method_type TEXT NOT NULL,
    proto       TEXT,
    json        TEXT NOT NULL,
    UNIQUE (service, operation, method, method_type)
);
CREATE TABLE registry_proto (
    service  TEXT NOT NULL REFERENCES registry_service (name) ON DELETE CASCADE,
    filename TEXT NOT NULL,
    data     BYTEA NOT NULL,
    PRIMARY KEY (service, filename)
);

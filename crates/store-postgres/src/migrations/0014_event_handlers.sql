-- Event handlers (Conductor's EventHandler), by name, found by their event.
CREATE TABLE event_handler (
    name   TEXT PRIMARY KEY,
    event  TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    json   TEXT NOT NULL
);
CREATE INDEX event_handler_by_event ON event_handler (event, name);

-- Records of events received and of the actions handlers took for them: the
-- latest of each event and of each handler are kept.
CREATE TABLE event_message (
    id      TEXT PRIMARY KEY,
    event   TEXT NOT NULL,
    created BIGINT NOT NULL,
    json    TEXT NOT NULL
);
CREATE INDEX event_message_by_event ON event_message (event, created);
CREATE TABLE event_execution (
    id      TEXT PRIMARY KEY,
    handler TEXT NOT NULL,
    created BIGINT NOT NULL,
    json    TEXT NOT NULL
);
CREATE INDEX event_execution_by_handler ON event_execution (handler, created);

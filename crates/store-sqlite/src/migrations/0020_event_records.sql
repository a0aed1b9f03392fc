-- Records of events received and of the actions handlers took for them: the
-- latest of each event and of each handler are kept.
CREATE TABLE event_message (
    id      TEXT PRIMARY KEY,
    event   TEXT NOT NULL,
    created INTEGER NOT NULL,
    json    TEXT NOT NULL
);
CREATE INDEX event_message_by_event ON event_message (event, created);
CREATE TABLE event_execution (
    id      TEXT PRIMARY KEY,
    handler TEXT NOT NULL,
    created INTEGER NOT NULL,
    json    TEXT NOT NULL
);
CREATE INDEX event_execution_by_handler ON event_execution (handler, created);
-- An event from outside is read from its message by the jobs that carry it out
-- (their workflow id is the message's id): it is kept while they wait.
CREATE INDEX job_workflow ON job (workflow_id);

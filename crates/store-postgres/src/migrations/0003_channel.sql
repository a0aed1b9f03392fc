-- The channel the nodes of this cluster announce changes on. PostgreSQL lets every
-- role that can connect LISTEN and NOTIFY on any channel it can name: a name drawn at
-- random (122 random bits) and kept where only roles that may read Podium's tables
-- find it keeps other roles from hearing the announcements (workflow ids, queue
-- names) and from sending false ones (reloads on every node, again and again).
CREATE TABLE podium_channel (name TEXT NOT NULL);
INSERT INTO podium_channel (name) VALUES ('podium_' || replace(gen_random_uuid()::text, '-', ''));

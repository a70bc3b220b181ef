-- Events from every writer (record created/updated/deleted, tags, status,
-- owner, stage, won/lost, actions, bookings): who caused them, and an index to
-- read one record's events in order (audit, scenarios, webhooks).
ALTER TABLE events ADD COLUMN actor_id BIGINT;
CREATE INDEX events_record ON events(entity, record_id, id);

-- The settings catalogue's version: raised by every settings write (in its
-- transaction), compared by each node's cached catalogue.
CREATE TABLE catalog_version (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO catalog_version (id, version) VALUES (1, 0);

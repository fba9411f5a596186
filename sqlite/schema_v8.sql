-- Schema version 8: the recovery tools and the event type catalog.
--
-- Deliveries carry their event's type (event_type), set at fan-out, so that
-- a list of deliveries filtered by type walks an index newest first instead
-- of looking up the event of every delivery it passes. Existing rows get
-- theirs from their events (the migration rewrites the table once).
--
-- The list indexes, each ending in id so that a time range is a range of
-- IDs (an ID carries its creation millisecond) and a page stops after its
-- rows:
--   deliveries_type            by event type
--   deliveries_failed_endpoint dead letters of an endpoint (bulk retry,
--                              recover, the endpoint's failed list)
--   deliveries_failed_type     dead letters of a type
-- The two partial ones hold dead letters only, so ingest never writes them.
-- deliveries_event is keyed (event_id, endpoint_id) now, so that "has this
-- event a delivery to this endpoint" (ReplayMissing) is one seek however wide
-- the event's fan-out; a list of one event's deliveries sorts them.
--
-- Events are listed by tenant, by type, and both (GET /v1/events, and the
-- pages of ReplayMissing by tenant).

ALTER TABLE deliveries ADD COLUMN event_type TEXT NOT NULL DEFAULT '';
UPDATE deliveries SET event_type = coalesce((SELECT type FROM events WHERE events.id = deliveries.event_id), '');

DROP INDEX deliveries_event;
CREATE INDEX deliveries_event ON deliveries (event_id, endpoint_id, id);
CREATE INDEX deliveries_type ON deliveries (event_type, id);
CREATE INDEX deliveries_failed_endpoint ON deliveries (endpoint_id, id) WHERE status = 2;
CREATE INDEX deliveries_failed_type ON deliveries (event_type, id) WHERE status = 2;

CREATE INDEX events_tenant ON events (tenant, id);
CREATE INDEX events_tenant_type ON events (tenant, type, id);
CREATE INDEX events_type ON events (type, id);

-- The event type catalog: per tenant, the default one of tenant ''. schema
-- is the JSON Schema as sent, NULL for none; version grows with each change.
CREATE TABLE event_types (
	tenant      TEXT NOT NULL,
	name        TEXT NOT NULL,
	description TEXT NOT NULL,
	schema      BLOB,
	deprecated  INTEGER NOT NULL CHECK (deprecated IN (0, 1)),
	version     INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	PRIMARY KEY (tenant, name)
) WITHOUT ROWID, STRICT;

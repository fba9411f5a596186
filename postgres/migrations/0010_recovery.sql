-- Version 10: the recovery tools and the event type catalog (mirrors
-- sqlite/schema_v8.sql).
--
-- Deliveries carry their event's type (event_type), set at fan-out, so that
-- a list filtered by type walks an index newest first instead of joining
-- every delivery it passes with its event; existing rows get theirs from
-- their events (the migration rewrites the table once). Types are compared
-- byte by byte (COLLATE "C"), so that the types starting with a prefix are
-- one range of an index whatever the database's collation.
--
-- The list indexes end in id, so that a time range is a range of IDs (an ID
-- carries its creation millisecond) and a page stops after its rows:
--   deliveries_type             by event type
--   deliveries_failed_endpoint  dead letters of an endpoint, now in ID order
--   deliveries_failed_type      dead letters of a type
-- The partial ones hold dead letters only, so ingest never writes them.
-- deliveries_event is keyed (event_id, endpoint_id) now, so that "has this
-- event a delivery to this endpoint" (ReplayMissing, the seq of a replay)
-- is one seek however wide the event's fan-out.
--
-- Events are listed by tenant, by type, and both (GET /v1/events, and the
-- pages of ReplayMissing by tenant).

ALTER TABLE deliveries ADD COLUMN event_type text COLLATE "C" NOT NULL DEFAULT '';
UPDATE deliveries d SET event_type = e.type FROM events e WHERE e.id = d.event_id;

DROP INDEX deliveries_event;
CREATE INDEX deliveries_event ON deliveries (event_id, endpoint_id, id) INCLUDE (status);
CREATE INDEX deliveries_type ON deliveries (event_type, id);
DROP INDEX deliveries_failed_endpoint;
CREATE INDEX deliveries_failed_endpoint ON deliveries (endpoint_id, id) WHERE status = 2;
CREATE INDEX deliveries_failed_type ON deliveries (event_type, id) WHERE status = 2;

CREATE INDEX events_tenant ON events (tenant, id);
CREATE INDEX events_tenant_type ON events (tenant, type COLLATE "C", id);
CREATE INDEX events_type ON events (type COLLATE "C", id);

-- The event type catalog: per tenant, the default one of tenant ''. schema
-- is the JSON Schema as sent, NULL for none; version grows with each change.
CREATE TABLE event_types (
	tenant      text NOT NULL,
	name        text COLLATE "C" NOT NULL,
	description text NOT NULL,
	schema      bytea,
	deprecated  boolean NOT NULL,
	version     integer NOT NULL,
	created_at  timestamptz NOT NULL,
	updated_at  timestamptz NOT NULL,
	PRIMARY KEY (tenant, name)
);

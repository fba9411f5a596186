-- The schema of Hookline's PostgreSQL store, version 1.
--
-- It mirrors the SQLite store's schema (sqlite/schema.sql): delivery status is
-- 0 pending, 1 delivered, 2 failed; a pending delivery is "claimed" while a
-- node holds it in memory; ClaimDue only looks at pending, unclaimed
-- deliveries, through the partial index deliveries_due. Times are timestamptz
-- (microseconds). Every table lives in the schema the store was opened with.
--
-- There are no foreign keys: the store deletes deliveries and attempts with
-- their endpoint or event itself, in batches, and keeps ingest from writing
-- deliveries for an endpoint being deleted with the lock described at
-- endpoints_version. Foreign keys would add a check per delivery row to the
-- 10,000-row fan-out of one event.

CREATE TABLE endpoints (
	id          text PRIMARY KEY,
	tenant      text NOT NULL,
	url         text NOT NULL,
	description text NOT NULL,
	event_types text[], -- NULL for none
	secret      text NOT NULL,
	disabled    boolean NOT NULL,
	created_at  timestamptz NOT NULL,
	updated_at  timestamptz NOT NULL
);

CREATE INDEX endpoints_tenant ON endpoints (tenant, id);

-- endpoints_version is one row whose version changes in the transaction of
-- every change to endpoints (the trigger below). Each store caches the enabled
-- endpoints of the tenants it ingests for; ingest reads the version FOR SHARE
-- and reloads its cache when it changed. The share lock also makes endpoint
-- changes and ingest wait for each other, so an ingest never writes
-- deliveries for an endpoint whose deletion commits before it does.
CREATE TABLE endpoints_version (
	one     boolean PRIMARY KEY DEFAULT true CHECK (one),
	version bigint NOT NULL
);

INSERT INTO endpoints_version (version) VALUES (1);

CREATE FUNCTION endpoints_changed() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
	UPDATE endpoints_version SET version = version + 1;
	RETURN NULL;
END $$;

CREATE TRIGGER endpoints_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON endpoints
	FOR EACH STATEMENT EXECUTE FUNCTION endpoints_changed();

-- Events keep their data, not their payload: the payload is rebuilt from id,
-- type, created_at and data (hookline.Event.Payload) when a delivery is read.
CREATE TABLE events (
	id         text PRIMARY KEY,
	tenant     text NOT NULL,
	type       text NOT NULL,
	data       bytea, -- the JSON bytes as sent
	created_at timestamptz NOT NULL,
	deliveries integer NOT NULL -- fan-out at ingest; replays are not counted
);

CREATE INDEX events_created ON events (created_at);

CREATE TABLE deliveries (
	id               text PRIMARY KEY,
	event_id         text NOT NULL,
	endpoint_id      text NOT NULL,
	partition        integer NOT NULL,
	status           smallint NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),
	claimed          boolean NOT NULL DEFAULT false,
	attempts         integer NOT NULL DEFAULT 0,
	schedule_offset  integer NOT NULL DEFAULT 0,
	next_attempt_at  timestamptz, -- NULL unless pending
	last_status_code integer NOT NULL DEFAULT 0,
	last_error       text NOT NULL DEFAULT '',
	created_at       timestamptz NOT NULL,
	updated_at       timestamptz NOT NULL,
	delivered_at     timestamptz
);

-- The claim query: due pending deliveries nobody holds, earliest first. Rows
-- leave the index as they are claimed or settled.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, partition)
	WHERE status = 0 AND NOT claimed;
-- ResetClaims: the deliveries held in memory, by partition.
CREATE INDEX deliveries_claimed ON deliveries (partition) WHERE claimed;
-- List filters, newest first. The event index carries the status so that
-- Prune can tell whether an event still has pending deliveries from the index.
CREATE INDEX deliveries_event ON deliveries (event_id, id) INCLUDE (status);
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, id);
CREATE INDEX deliveries_status ON deliveries (status, id);

CREATE TABLE attempts (
	delivery_id   text NOT NULL,
	attempt       integer NOT NULL,
	started_at    timestamptz NOT NULL,
	duration_us   bigint NOT NULL,
	status_code   integer NOT NULL,
	error         text NOT NULL,
	response_body bytea NOT NULL, -- the bytes received, which need not be text
	PRIMARY KEY (delivery_id, attempt)
);

-- Idempotency keys answer a repeated request with its first result for
-- hookline.IdempotencyWindow. They keep that result (event_id, deliveries) so
-- that it outlives the event should the event be pruned first.
CREATE TABLE idempotency_keys (
	tenant       text NOT NULL,
	key          text NOT NULL,
	request_hash text NOT NULL,
	event_id     text NOT NULL,
	deliveries   integer NOT NULL,
	created_at   timestamptz NOT NULL,
	PRIMARY KEY (tenant, key)
);

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- counts keeps the numbers behind Stats and PendingCount, so that reading
-- them costs a sum over 64 rows however many deliveries there are. Triggers
-- add each statement's changes to the row of the writing backend
-- (pg_backend_pid() % 64), so that concurrent writers seldom wait for each
-- other; the counts are as transactional as the rows they count.
CREATE TABLE counts (
	slot       integer PRIMARY KEY,
	pending    bigint NOT NULL DEFAULT 0,
	delivered  bigint NOT NULL DEFAULT 0,
	failed     bigint NOT NULL DEFAULT 0,
	events     bigint NOT NULL DEFAULT 0,
	endpoints  bigint NOT NULL DEFAULT 0
);

INSERT INTO counts (slot) SELECT generate_series(0, 63);

CREATE FUNCTION count_deliveries() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
	p bigint := 0;
	d bigint := 0;
	f bigint := 0;
BEGIN
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		SELECT p + count(*) FILTER (WHERE status = 0), d + count(*) FILTER (WHERE status = 1),
			f + count(*) FILTER (WHERE status = 2)
		INTO p, d, f FROM new_rows;
	END IF;
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		SELECT p - count(*) FILTER (WHERE status = 0), d - count(*) FILTER (WHERE status = 1),
			f - count(*) FILTER (WHERE status = 2)
		INTO p, d, f FROM old_rows;
	END IF;
	IF p <> 0 OR d <> 0 OR f <> 0 THEN
		UPDATE counts SET pending = pending + p, delivered = delivered + d, failed = failed + f
		WHERE slot = pg_backend_pid() % 64;
	END IF;
	RETURN NULL;
END $$;

-- A trigger with transition tables fires on one event only: three of them.
CREATE TRIGGER deliveries_counted_insert AFTER INSERT ON deliveries
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION count_deliveries();
CREATE TRIGGER deliveries_counted_update AFTER UPDATE ON deliveries
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION count_deliveries();
CREATE TRIGGER deliveries_counted_delete AFTER DELETE ON deliveries
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION count_deliveries();

-- count_rows adds the rows a statement inserted into or deleted from events
-- or endpoints (TG_ARGV[0]) to counts.
CREATE FUNCTION count_rows() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
	n bigint;
BEGIN
	IF TG_OP = 'INSERT' THEN
		SELECT count(*) INTO n FROM new_rows;
	ELSE
		SELECT -count(*) INTO n FROM old_rows;
	END IF;
	IF n <> 0 AND TG_ARGV[0] = 'events' THEN
		UPDATE counts SET events = events + n WHERE slot = pg_backend_pid() % 64;
	ELSIF n <> 0 THEN
		UPDATE counts SET endpoints = endpoints + n WHERE slot = pg_backend_pid() % 64;
	END IF;
	RETURN NULL;
END $$;

CREATE TRIGGER events_counted_insert AFTER INSERT ON events
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION count_rows('events');
CREATE TRIGGER events_counted_delete AFTER DELETE ON events
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION count_rows('events');
CREATE TRIGGER endpoints_counted_insert AFTER INSERT ON endpoints
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION count_rows('endpoints');
CREATE TRIGGER endpoints_counted_delete AFTER DELETE ON endpoints
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION count_rows('endpoints');

-- Partition leases (lease.go): each live node heartbeats in nodes and holds
-- its share of the hookline.Partitions (128) partitions in partition_leases.
-- A partition is free when node_id is NULL or its lease has expired; epoch
-- counts the times it changed hands.
CREATE TABLE nodes (
	node_id      text PRIMARY KEY,
	heartbeat_at timestamptz NOT NULL
);

CREATE TABLE partition_leases (
	partition  integer PRIMARY KEY,
	node_id    text,
	expires_at timestamptz NOT NULL DEFAULT '-infinity',
	epoch      bigint NOT NULL DEFAULT 0
);

INSERT INTO partition_leases (partition) SELECT generate_series(0, 127);

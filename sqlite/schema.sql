-- The schema of Hookline's SQLite store, version 1 (PRAGMA user_version).
--
-- Times are unix microseconds. Delivery status is 0 pending, 1 delivered,
-- 2 failed. A pending delivery is "claimed" while a node holds it in memory;
-- ClaimDue only looks at pending, unclaimed deliveries, through the partial
-- index deliveries_due.

CREATE TABLE endpoints (
	id          TEXT PRIMARY KEY,
	tenant      TEXT NOT NULL,
	url         TEXT NOT NULL,
	description TEXT NOT NULL,
	event_types TEXT NOT NULL, -- JSON array, or null for none
	secret      TEXT NOT NULL,
	disabled    INTEGER NOT NULL CHECK (disabled IN (0, 1)),
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
) WITHOUT ROWID, STRICT;

CREATE INDEX endpoints_tenant ON endpoints (tenant, id);

-- Events keep their data, not their payload: the payload is rebuilt from id,
-- type, created_at and data (hookline.Event.Payload) when a delivery is read.
CREATE TABLE events (
	id         TEXT PRIMARY KEY,
	tenant     TEXT NOT NULL,
	type       TEXT NOT NULL,
	data       BLOB,
	created_at INTEGER NOT NULL,
	deliveries INTEGER NOT NULL -- fan-out at ingest; replays are not counted
) STRICT;

CREATE INDEX events_created ON events (created_at);

-- Deliveries and attempts have no foreign keys: a foreign key costs a lookup
-- of the parent for every row inserted (two per delivery, one per attempt),
-- and every row is written with its parent known to exist (the event in the
-- same transaction, the endpoint from the cache the store keeps, the
-- delivery checked by RecordOutcomes). The cascades are the triggers below.
CREATE TABLE deliveries (
	id               TEXT PRIMARY KEY,
	event_id         TEXT NOT NULL,
	endpoint_id      TEXT NOT NULL,
	partition        INTEGER NOT NULL,
	status           INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),
	claimed          INTEGER NOT NULL DEFAULT 0 CHECK (claimed IN (0, 1)),
	attempts         INTEGER NOT NULL DEFAULT 0,
	schedule_offset  INTEGER NOT NULL DEFAULT 0,
	next_attempt_at  INTEGER, -- null unless pending
	last_status_code INTEGER NOT NULL DEFAULT 0,
	last_error       TEXT NOT NULL DEFAULT '',
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL,
	delivered_at     INTEGER
) WITHOUT ROWID, STRICT;

-- The claim query: due pending deliveries nobody holds, earliest first. Rows
-- leave the index as they are claimed or settled.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, partition)
	WHERE status = 0 AND claimed = 0;
-- List filters, newest first. Every index here is written for each delivery
-- made and, when it holds the status, again for each status change, so the
-- status lives only where it is needed: failed deliveries (the dead letters)
-- are listed through a small partial index; other status-only lists walk the
-- table newest first. ResetClaims, which runs once at start-up, scans.
CREATE INDEX deliveries_event ON deliveries (event_id, id);
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, id);
CREATE INDEX deliveries_failed ON deliveries (id) WHERE status = 2;

CREATE TABLE attempts (
	delivery_id   TEXT NOT NULL,
	attempt       INTEGER NOT NULL,
	started_at    INTEGER NOT NULL,
	duration_us   INTEGER NOT NULL,
	status_code   INTEGER NOT NULL,
	error         TEXT NOT NULL,
	response_body TEXT NOT NULL,
	PRIMARY KEY (delivery_id, attempt)
) WITHOUT ROWID, STRICT;

-- The cascades: an endpoint or an event takes its deliveries with it, and a
-- delivery its attempts.
CREATE TRIGGER endpoints_cascade AFTER DELETE ON endpoints BEGIN
	DELETE FROM deliveries WHERE endpoint_id = old.id;
END;
CREATE TRIGGER events_cascade AFTER DELETE ON events BEGIN
	DELETE FROM deliveries WHERE event_id = old.id;
END;
CREATE TRIGGER deliveries_cascade AFTER DELETE ON deliveries BEGIN
	DELETE FROM attempts WHERE delivery_id = old.id;
END;

-- Idempotency keys answer a repeated request with its first result for
-- hookline.IdempotencyWindow. They keep that result (event_id, deliveries) so
-- that it outlives the event should the event be pruned first.
CREATE TABLE idempotency_keys (
	tenant       TEXT NOT NULL,
	key          TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	event_id     TEXT NOT NULL,
	deliveries   INTEGER NOT NULL,
	created_at   INTEGER NOT NULL,
	PRIMARY KEY (tenant, key)
) WITHOUT ROWID, STRICT;

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

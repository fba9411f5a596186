-- Schema version 2: receiver protection.
--
-- Endpoints gain their per-endpoint controls and the reason they are
-- disabled. Their health (circuit breaker, failure run, Retry-After pause)
-- lives in a table of its own, written by the dispatching node when it
-- changes, so that a restart keeps it.
--
-- The dispatcher claims due deliveries endpoint by endpoint (so that an
-- endpoint with a huge backlog, or one whose circuit is open, never stands
-- in front of the others in the store), so deliveries_due is keyed by
-- endpoint. Like before, it holds only pending, unclaimed rows: deliveries
-- claimed at ingest and delivered at the first attempt never enter it.

ALTER TABLE endpoints ADD COLUMN rate_limit REAL NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN max_in_flight INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN disabled_reason TEXT NOT NULL DEFAULT '';

DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (endpoint_id, next_attempt_at)
	WHERE status = 0 AND claimed = 0;

-- circuit: 0 closed, 1 open, 2 half-open. Times are unix microseconds.
CREATE TABLE endpoint_health (
	endpoint_id          TEXT PRIMARY KEY,
	circuit              INTEGER NOT NULL CHECK (circuit IN (0, 1, 2)),
	consecutive_failures INTEGER NOT NULL,
	failing_since        INTEGER,
	last_success_at      INTEGER,
	paused_until         INTEGER,
	opened_at            INTEGER,
	cooldown_us          INTEGER NOT NULL,
	updated_at           INTEGER NOT NULL
) WITHOUT ROWID, STRICT;

DROP TRIGGER endpoints_cascade;
CREATE TRIGGER endpoints_cascade AFTER DELETE ON endpoints BEGIN
	DELETE FROM deliveries WHERE endpoint_id = old.id;
	DELETE FROM endpoint_health WHERE endpoint_id = old.id;
END;

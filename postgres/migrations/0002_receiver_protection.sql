-- Version 2: receiver protection (mirrors sqlite/schema_v2.sql).
--
-- Endpoints gain their per-endpoint controls and the reason they are
-- disabled. Their health (circuit breaker, failure run, Retry-After pause)
-- lives in a table of its own, written by the partition owner when it
-- changes: a change there must not bump endpoints_version (which would make
-- every node reload its subscriptions), and it must survive a move of the
-- partition to another node.
--
-- The dispatcher claims due deliveries endpoint by endpoint, so that an
-- endpoint with a huge backlog, or one whose circuit is open, never stands
-- in front of the others, and finds the endpoints with work by a loose
-- index scan of deliveries_due. Deliveries claimed at ingest never enter it.
-- deliveries_failed_endpoint serves RecoverEndpoint and EndpointCounts:
-- dead letters are few, so it costs little.

ALTER TABLE endpoints ADD COLUMN rate_limit double precision NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN max_in_flight integer NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN disabled_reason text NOT NULL DEFAULT '';

DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (endpoint_id, next_attempt_at)
	WHERE status = 0 AND NOT claimed;
CREATE INDEX deliveries_failed_endpoint ON deliveries (endpoint_id) WHERE status = 2;

-- circuit: 0 closed, 1 open, 2 half-open.
CREATE TABLE endpoint_health (
	endpoint_id          text PRIMARY KEY,
	partition            integer NOT NULL,
	circuit              smallint NOT NULL CHECK (circuit IN (0, 1, 2)),
	consecutive_failures integer NOT NULL,
	failing_since        timestamptz,
	last_success_at      timestamptz,
	paused_until         timestamptz,
	opened_at            timestamptz,
	cooldown_us          bigint NOT NULL,
	updated_at           timestamptz NOT NULL
);

CREATE INDEX endpoint_health_partition ON endpoint_health (partition);

-- Version 3: ordering, priorities and batched delivery (mirrors
-- sqlite/schema_v3.sql).
--
-- A fifo endpoint's deliveries carry their ordering key (okey; NULL for
-- other endpoints) and their accepted order (seq). seq comes from the
-- endpoint's row of endpoint_seqs, which the ingest transaction updates,
-- holding its row lock until it commits: two ingests of one fifo endpoint,
-- on any nodes, take their numbers one after the other, so seq order is
-- the commit order. Endpoints that do not order by key never touch it.
--
-- deliveries_due_order is the order the dispatcher claims stored work in:
-- by due time less priority × 30 s (hookline.PriorityStep). Like
-- deliveries_due it holds only pending, unclaimed rows, and deliveries_fifo
-- only rows of fifo endpoints, so neither costs the hot path.

ALTER TABLE events ADD COLUMN priority smallint NOT NULL DEFAULT 5;
ALTER TABLE events ADD COLUMN ordering_key text NOT NULL DEFAULT '';

ALTER TABLE endpoints ADD COLUMN ordering text NOT NULL DEFAULT 'none';
ALTER TABLE endpoints ADD COLUMN batch_max_events integer NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN batch_max_wait_ms integer NOT NULL DEFAULT 0;

ALTER TABLE deliveries ADD COLUMN priority smallint NOT NULL DEFAULT 5;
ALTER TABLE deliveries ADD COLUMN seq bigint NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN okey text;
ALTER TABLE deliveries ADD COLUMN batch_id text;

CREATE TABLE endpoint_seqs (
	endpoint_id text PRIMARY KEY,
	seq         bigint NOT NULL
);

-- due_order is the time a delivery is taken at. Subtracting whole seconds
-- from a timestamptz does not depend on the time zone, so the function is
-- immutable, as an index expression must be (timestamptz - interval in
-- general is not: an interval of days or months depends on it).
CREATE FUNCTION due_order(t timestamptz, priority smallint) RETURNS timestamptz
	LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT
	AS $$ SELECT t - priority * interval '30 seconds' $$;

CREATE INDEX deliveries_due_order ON deliveries (endpoint_id, due_order(next_attempt_at, priority))
	WHERE status = 0 AND NOT claimed;
CREATE INDEX deliveries_fifo ON deliveries (endpoint_id, okey, seq)
	WHERE status = 0 AND okey IS NOT NULL;
CREATE INDEX deliveries_batch ON deliveries (batch_id)
	WHERE status = 0 AND batch_id IS NOT NULL;

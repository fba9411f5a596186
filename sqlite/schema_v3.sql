-- Schema version 3: ordering, priorities and batched delivery.
--
-- Events keep their priority, ordering key and accepted order (seq: one
-- counter for the whole store, assigned by its single writer, so it is the
-- commit order). Deliveries copy the priority and the accepted order, and,
-- when their endpoint orders by key, the key (okey; NULL otherwise), so that
-- a fifo endpoint's next delivery of a key is found on deliveries_fifo
-- without reading events. batch_id names the batch a pending delivery was
-- last sent in, so that a batch is retried whole.
--
-- deliveries_due_order is the order the dispatcher claims stored work in:
-- by due time less priority × 30 s (hookline.PriorityStep), the aging of
-- priorities. Like deliveries_due it holds only pending, unclaimed rows, and
-- deliveries_fifo only rows of fifo endpoints, so neither costs the hot path
-- (deliveries claimed at ingest and delivered at the first attempt).

ALTER TABLE events ADD COLUMN priority INTEGER NOT NULL DEFAULT 5;
ALTER TABLE events ADD COLUMN ordering_key TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;

ALTER TABLE endpoints ADD COLUMN ordering TEXT NOT NULL DEFAULT 'none';
ALTER TABLE endpoints ADD COLUMN batch_max_events INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN batch_max_wait_ms INTEGER NOT NULL DEFAULT 0;

ALTER TABLE deliveries ADD COLUMN priority INTEGER NOT NULL DEFAULT 5;
ALTER TABLE deliveries ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN okey TEXT;
ALTER TABLE deliveries ADD COLUMN batch_id TEXT;

CREATE INDEX deliveries_due_order ON deliveries (endpoint_id, next_attempt_at - priority * 30000000)
	WHERE status = 0 AND claimed = 0;
CREATE INDEX deliveries_fifo ON deliveries (endpoint_id, okey, seq)
	WHERE status = 0 AND okey IS NOT NULL;
CREATE INDEX deliveries_batch ON deliveries (batch_id)
	WHERE status = 0 AND batch_id IS NOT NULL;

-- Schema version 13: one due index instead of two.
--
-- deliveries_due (endpoint_id, next_attempt_at) answered when an endpoint's
-- stored work is due, and deliveries_due_order (endpoint_id, next_attempt_at
-- - priority × 30 s) the order it is claimed in. Both held every pending,
-- unclaimed row: two b-tree entries written at ingest and deleted again at
-- the claim, for each delivery that waits in the store.
--
-- deliveries_due_lane keeps each priority's rows apart, in due order: the
-- due time of an endpoint is the least of its lanes' first entries (one seek
-- a lane, ten lanes), and the claim merges the lanes' heads by due time less
-- priority × PriorityStep.
--
-- Rows hold priorities 0 to 9 only (hookline.ClampPriority, at ingest), so
-- those are the lanes; pending rows an earlier version wrote with another
-- priority (from the Go API) are clamped here, or no lane would hold them.
UPDATE deliveries SET priority = max(0, min(9, priority))
	WHERE status = 0 AND (priority < 0 OR priority > 9);
DROP INDEX deliveries_due;
DROP INDEX deliveries_due_order;
CREATE INDEX deliveries_due_lane ON deliveries (endpoint_id, priority, next_attempt_at)
	WHERE status = 0 AND claimed = 0;

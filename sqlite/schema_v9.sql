-- Schema version 9: endpoint
-- versions and soft delete.
--
-- version numbers an endpoint's latest change, from one sequence the store
-- keeps for all endpoints (the highest number given is read at open): every
-- write of an endpoint takes the next one, so snapshots of an endpoint are
-- ordered by the store, not by the clocks of whoever wrote them.
-- endpoints_by_version serves EndpointChanges.
--
-- Deleting an endpoint only sets deleted_at (unix microseconds; NULL while
-- it exists) and clears its secrets: one small write, however many
-- deliveries it has. PurgeDeleted then deletes its deliveries and attempts
-- in small transactions, and the row itself last.
ALTER TABLE endpoints ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN deleted_at INTEGER;

CREATE INDEX endpoints_by_version ON endpoints (version);
CREATE INDEX endpoints_deleted ON endpoints (deleted_at) WHERE deleted_at IS NOT NULL;

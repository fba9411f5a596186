-- Version 9: claims carry their time (mirrors nothing on SQLite, which keeps
-- the holder and time of its claims in memory: see sqlite/claims.go).
--
-- claimed_at is when the claim of a claimed delivery was made, by the
-- claimer's clock; with claimed_by it says who holds a delivery and since
-- when. The engine's rescuer frees the claims of its partitions that are
-- older than a bound and that nothing in its memory holds: a failed Unclaim,
-- or a lost reply of a claim (an ingest COMMIT, a ClaimDue), leaves a claim
-- that nothing will ever send or release. It finds them through
-- deliveries_claimed, which holds only claimed rows. Claims made before this
-- migration have no time and count as old.

ALTER TABLE deliveries ADD COLUMN claimed_at timestamptz;

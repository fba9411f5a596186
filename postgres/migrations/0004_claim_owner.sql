-- Version 4: claims name their holder.
--
-- Each store (each node process) takes a number from claim_owners when it
-- opens, and writes it in claimed_by with every claim it makes. Outcomes are
-- written only where the claim is still that store's, so a node that paused
-- past its lease, or lost a database reply, cannot overwrite what the new
-- owner of the partition recorded after resetting the claims.

ALTER TABLE deliveries ADD COLUMN claimed_by bigint;
CREATE SEQUENCE claim_owners;

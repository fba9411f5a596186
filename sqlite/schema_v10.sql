-- Schema version 10: an endpoint's deliveries of one type.
--
-- deliveries_endpoint_type leads a list (or a count) of an endpoint's
-- deliveries of an exact type, newest first, and deliveries_failed_endpoint_type
-- that of its dead letters of a type: each walk holds only rows that match, so
-- a type the endpoint (almost) never receives answers at once instead of
-- checking each of the endpoint's deliveries (or dead letters) against the
-- type. A type pattern on an endpoint is the merge of one walk per type the
-- endpoint has that matches, the types found by a loose scan of
-- deliveries_endpoint_type.
--
-- deliveries_endpoint_type is one more index entry for each delivery
-- written; the partial one, like deliveries_failed_endpoint, is written only
-- when a delivery fails for good or leaves the dead letters.
CREATE INDEX deliveries_endpoint_type ON deliveries (endpoint_id, event_type, id);
CREATE INDEX deliveries_failed_endpoint_type ON deliveries (endpoint_id, event_type, id) WHERE status = 2;

-- Version 12: an endpoint's deliveries of one type (mirrors
-- sqlite/schema_v10.sql).
--
-- deliveries_endpoint_type serves a list (or a count) of an endpoint's
-- deliveries of an exact type, newest first, and
-- deliveries_failed_endpoint_type that of its dead letters of a type: each
-- walk holds only rows that match, so a type the endpoint rarely receives,
-- and that is common elsewhere, costs neither a walk of the endpoint's
-- deliveries nor one of the type's. A type pattern on an endpoint is the
-- merge of one walk per type the endpoint has that matches, the types found
-- by a loose scan of deliveries_endpoint_type.
--
-- deliveries_endpoint_type is one more index entry for each delivery
-- written (and for each status change that is not a HOT update); the
-- partial one only for the rows that enter the dead letters.
CREATE INDEX deliveries_endpoint_type ON deliveries (endpoint_id, event_type, id);
CREATE INDEX deliveries_failed_endpoint_type ON deliveries (endpoint_id, event_type, id) WHERE status = 2;

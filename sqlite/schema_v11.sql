-- Schema version 11: held deliveries (held.go).
--
-- A delivery that ingest hands straight to memory has no row of its own
-- until its outcome (or an unclaim, or a read that needs it) writes it: its
-- event's fanouts row lists it instead, so that an event costs O(1) rows at
-- ingest, whatever its fan-out. The row is deleted with the write of the
-- last delivery it lists; Open writes the deliveries of those an earlier run
-- left, unclaimed.
--
-- body lists the held deliveries of the event in ID order: for each, the
-- steps (see nextID) from the previous ID (first_id for the first), its
-- partition and its endpoint ID, as unsigned varints and bytes.
CREATE TABLE fanouts (
	id         INTEGER PRIMARY KEY,
	event_id   TEXT NOT NULL,
	first_id   TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	body       BLOB NOT NULL
) STRICT;

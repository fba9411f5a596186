-- Version 8: endpoints' request options. headers and auth hold JSON sealed with the
-- secret key ('' for none), retry_schedule a JSON array of nanoseconds (''
-- for the server's), timeout_ms 0 for the server's.
ALTER TABLE endpoints
	ADD COLUMN headers text NOT NULL DEFAULT '',
	ADD COLUMN auth text NOT NULL DEFAULT '',
	ADD COLUMN timeout_ms bigint NOT NULL DEFAULT 0,
	ADD COLUMN retry_schedule text NOT NULL DEFAULT '';

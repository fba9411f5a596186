-- Schema version 7: endpoints' request options. headers and auth hold JSON sealed with
-- the secret key ('' for none), retry_schedule a JSON array of nanoseconds
-- ('' for the server's), timeout_ms 0 for the server's.
ALTER TABLE endpoints ADD COLUMN headers TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN auth TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN timeout_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN retry_schedule TEXT NOT NULL DEFAULT '';

-- Schema version 6: the payload filter of endpoints (NULL: none).
ALTER TABLE endpoints ADD COLUMN filter TEXT;

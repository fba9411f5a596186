-- Version 7: the payload filter of endpoints (NULL: none), as the JSON text
-- given (text, not jsonb, so that it is kept byte for byte).
ALTER TABLE endpoints ADD COLUMN filter text;

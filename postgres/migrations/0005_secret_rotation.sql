-- Version 5: secret rotation (mirrors sqlite/schema_v4.sql).
--
-- An endpoint keeps the secret that its current one replaced in a rotation:
-- deliveries are signed with both until previous_secret_expires_at (NULL,
-- with previous_secret '', when there is none).

ALTER TABLE endpoints ADD COLUMN previous_secret text NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN previous_secret_expires_at timestamptz;

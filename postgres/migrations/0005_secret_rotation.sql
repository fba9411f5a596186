-- Version 5: secret rotation (mirrors sqlite/schema_v4.sql).
--
-- An endpoint keeps the secret that its current one replaced in a rotation:
-- deliveries are signed with both until previous_secret_expires_at (NULL,
-- with previous_secret '', when there is none). Both secret columns hold a
-- secret as given or, when the store has a secret box (--secret-key),
-- sealed with it: "aesgcm:<key ID>:<base64>".

ALTER TABLE endpoints ADD COLUMN previous_secret text NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN previous_secret_expires_at timestamptz;

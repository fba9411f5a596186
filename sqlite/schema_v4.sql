-- Schema version 4: secret rotation.
--
-- An endpoint keeps the secret that its current one replaced in a rotation:
-- deliveries are signed with both until previous_secret_expires_at (unix
-- microseconds; 0, with previous_secret '', when there is none). Both
-- secret columns hold a secret as given or, when the store has a secret box
-- (--secret-key), sealed with it: "aesgcm:<key ID>:<base64>".

ALTER TABLE endpoints ADD COLUMN previous_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN previous_secret_expires_at INTEGER NOT NULL DEFAULT 0;

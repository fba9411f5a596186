-- Schema version 5: tenant-scoped API keys, kept as the SHA-256 of the key.
-- (Version 4 holds the endpoints' signing-secret changes.)
CREATE TABLE api_keys (
	id         TEXT PRIMARY KEY,
	tenant     TEXT NOT NULL,
	name       TEXT NOT NULL,
	hash       BLOB NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
) WITHOUT ROWID, STRICT;

CREATE INDEX api_keys_tenant ON api_keys (tenant, id);

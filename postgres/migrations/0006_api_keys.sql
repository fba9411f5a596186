-- Version 6: tenant-scoped API keys, kept as the SHA-256 of the key.
-- (Version 5 holds the endpoints' signing-secret changes.)
CREATE TABLE api_keys (
	id         text PRIMARY KEY,
	tenant     text NOT NULL,
	name       text NOT NULL,
	hash       bytea NOT NULL UNIQUE,
	created_at timestamptz NOT NULL
);

CREATE INDEX api_keys_tenant ON api_keys (tenant, id);

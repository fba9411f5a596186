-- Version 11: endpoint versions and soft delete (mirrors sqlite/schema_v9.sql).
--
-- version numbers an endpoint's latest change, from endpoints_version: a
-- trigger gives every row written (INSERT or UPDATE, by any statement) the
-- next number, taken under that row's lock. An endpoint write holds the lock
-- until it commits, so numbers commit in order: once a number is visible,
-- every smaller one is, and a node that read the changes up to it
-- (EndpointChanges) has missed none. Snapshots of an endpoint are ordered by
-- it, not by the clocks of the nodes that wrote them. Rows from before this
-- version keep 0, older than any change.
--
-- Deleting an endpoint only sets deleted_at and clears its secrets: one
-- small write, however many deliveries it has, that holds up ingest (the
-- FOR SHARE of endpoints_version) no longer than any endpoint update.
-- PurgeDeleted then deletes its deliveries and attempts in short
-- transactions of their own, which take no lock that ingest needs, and the
-- row itself last. Endpoints are counted while they are not deleted.

ALTER TABLE endpoints ADD COLUMN version bigint NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN deleted_at timestamptz;

CREATE INDEX endpoints_by_version ON endpoints (version);
CREATE INDEX endpoints_deleted ON endpoints (deleted_at) WHERE deleted_at IS NOT NULL;

CREATE FUNCTION endpoint_versioned() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
	UPDATE endpoints_version SET version = version + 1 RETURNING version INTO NEW.version;
	RETURN NEW;
END $$;

-- The rows of deleted endpoints that PurgeDeleted removes are in no cache:
-- a DELETE bumps endpoints_version (and takes its lock) only for endpoints
-- that were not deleted already.
CREATE FUNCTION endpoints_removed() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
	n bigint;
BEGIN
	SELECT count(*) INTO n FROM old_rows WHERE deleted_at IS NULL;
	IF n <> 0 THEN
		UPDATE endpoints_version SET version = version + 1;
		UPDATE counts SET endpoints = endpoints - n WHERE slot = pg_backend_pid() % 64;
	END IF;
	RETURN NULL;
END $$;

CREATE FUNCTION endpoints_soft_deleted() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
	n bigint;
BEGIN
	SELECT (SELECT count(*) FROM new_rows WHERE deleted_at IS NOT NULL)
		- (SELECT count(*) FROM old_rows WHERE deleted_at IS NOT NULL) INTO n;
	IF n <> 0 THEN
		UPDATE counts SET endpoints = endpoints - n WHERE slot = pg_backend_pid() % 64;
	END IF;
	RETURN NULL;
END $$;

DROP TRIGGER endpoints_changed ON endpoints;
DROP TRIGGER endpoints_counted_delete ON endpoints;
CREATE TRIGGER endpoints_versioned BEFORE INSERT OR UPDATE ON endpoints
	FOR EACH ROW EXECUTE FUNCTION endpoint_versioned();
CREATE TRIGGER endpoints_changed AFTER TRUNCATE ON endpoints
	FOR EACH STATEMENT EXECUTE FUNCTION endpoints_changed();
CREATE TRIGGER endpoints_removed AFTER DELETE ON endpoints
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION endpoints_removed();
CREATE TRIGGER endpoints_counted_update AFTER UPDATE ON endpoints
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION endpoints_soft_deleted();

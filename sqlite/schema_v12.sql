-- Schema version 12: the tenant indexes of events hold only the events of a
-- named tenant.
--
-- Without tenants (every event's tenant is ''), events_tenant was the
-- primary key's order again and events_tenant_type events_type's: two of an
-- event row's six b-trees written for nothing. The events of tenant '' are
-- listed on the primary key or events_type, filtered; the queries of a named
-- tenant say tenant <> '' as well, so that SQLite may use these.
DROP INDEX events_tenant;
CREATE INDEX events_tenant ON events (tenant, id) WHERE tenant <> '';
DROP INDEX events_tenant_type;
CREATE INDEX events_tenant_type ON events (tenant, type, id) WHERE tenant <> '';

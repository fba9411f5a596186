package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookline/hookline"
)

// eventTypeColumns are the columns of a hookline.EventType.
const eventTypeColumns = `tenant, name, description, schema, deprecated, version, created_at, updated_at`

func scanEventType(row pgx.Row) (*hookline.EventType, error) {
	var t hookline.EventType
	var schema []byte
	var version int32
	if err := row.Scan(&t.Tenant, &t.Name, &t.Description, &schema, &t.Deprecated, &version, &t.CreatedAt, &t.UpdatedAt); err != nil {
		return nil, err
	}
	if len(schema) > 0 {
		t.Schema = schema
	}
	t.Version, t.CreatedAt, t.UpdatedAt = int(version), t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return &t, nil
}

func eventTypeNotFound(tenant, name string) error {
	if tenant == "" {
		return hookline.Errorf(hookline.ENOTFOUND, "event type %q not found", name)
	}
	return hookline.Errorf(hookline.ENOTFOUND, "event type %q of tenant %q not found", name, tenant)
}

// schemaArg returns the value a schema is stored as: NULL when there is none.
func schemaArg(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// CreateEventType stores a new catalog entry; one of the same tenant and
// name is ECONFLICT.
func (s *Store) CreateEventType(ctx context.Context, t *hookline.EventType) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO event_types (`+eventTypeColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		t.Tenant, t.Name, t.Description, schemaArg(t.Schema), t.Deprecated, int32(t.Version), truncate(t.CreatedAt), truncate(t.UpdatedAt))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return hookline.Errorf(hookline.ECONFLICT, "event type %q already exists; change it with PATCH", t.Name)
	}
	return s.wrap("create event type", err)
}

// FindEventType returns the tenant's own entry of name, else the default
// one, else ENOTFOUND.
func (s *Store) FindEventType(ctx context.Context, tenant, name string) (*hookline.EventType, error) {
	t, err := scanEventType(s.pool.QueryRow(ctx, `SELECT `+eventTypeColumns+` FROM event_types
		WHERE tenant IN ($1, '') AND name = $2 ORDER BY tenant = '' LIMIT 1`, tenant, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, eventTypeNotFound("", name)
	} else if err != nil {
		return nil, s.wrap("find event type", err)
	}
	return t, nil
}

// FindEventTypes returns a page of a tenant's catalog by name: its own
// entries and the default ones it does not override.
func (s *Store) FindEventTypes(ctx context.Context, f hookline.EventTypeFilter) ([]*hookline.EventType, string, error) {
	limit := pageLimit(f.Limit)
	query := `SELECT ` + eventTypeColumns + ` FROM event_types WHERE tenant = $1 AND name > $2`
	if f.Tenant != "" {
		query += ` UNION ALL SELECT ` + eventTypeColumns + ` FROM event_types d WHERE tenant = '' AND name > $2
			AND NOT EXISTS (SELECT 1 FROM event_types o WHERE o.tenant = $1 AND o.name = d.name)`
	}
	rows, err := s.pool.Query(ctx, query+` ORDER BY name LIMIT $3`, f.Tenant, f.Cursor, limit+1)
	if err != nil {
		return nil, "", s.wrap("find event types", err)
	}
	ts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*hookline.EventType, error) { return scanEventType(row) })
	if err != nil {
		return nil, "", s.wrap("find event types", err)
	}
	ts, next := paginate(ts, limit, func(t *hookline.EventType) string { return t.Name })
	return ts, next, nil
}

// UpdateEventType applies u to the tenant's own entry of name, raising its
// version; the row is locked while it changes, so two updates at once both
// count.
func (s *Store) UpdateEventType(ctx context.Context, tenant, name string, u hookline.EventTypeUpdate, now time.Time) (*hookline.EventType, error) {
	var t *hookline.EventType
	err := s.inTx(ctx, "update event type", func(tx pgx.Tx) error {
		var err error
		t, err = scanEventType(tx.QueryRow(ctx, `SELECT `+eventTypeColumns+` FROM event_types WHERE tenant = $1 AND name = $2 FOR UPDATE`,
			tenant, name))
		if errors.Is(err, pgx.ErrNoRows) {
			return eventTypeNotFound(tenant, name)
		} else if err != nil {
			return err
		}
		t.Apply(u, truncate(now))
		_, err = tx.Exec(ctx, `UPDATE event_types SET description = $3, schema = $4, deprecated = $5, version = $6, updated_at = $7
			WHERE tenant = $1 AND name = $2`, tenant, name, t.Description, schemaArg(t.Schema), t.Deprecated, int32(t.Version), t.UpdatedAt)
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// DeleteEventType deletes the tenant's own entry of name, or returns
// ENOTFOUND.
func (s *Store) DeleteEventType(ctx context.Context, tenant, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM event_types WHERE tenant = $1 AND name = $2`, tenant, name)
	if err != nil {
		return s.wrap("delete event type", err)
	} else if tag.RowsAffected() == 0 {
		return eventTypeNotFound(tenant, name)
	}
	return nil
}

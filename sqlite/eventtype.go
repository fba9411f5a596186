package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hookline/hookline"
)

// eventTypeColumns are the columns of a hookline.EventType.
const eventTypeColumns = `tenant, name, description, schema, deprecated, version, created_at, updated_at`

func scanEventType(row scanner) (*hookline.EventType, error) {
	var t hookline.EventType
	var schema []byte
	var created, updated int64
	if err := row.Scan(&t.Tenant, &t.Name, &t.Description, &schema, &t.Deprecated, &t.Version, &created, &updated); err != nil {
		return nil, err
	}
	if len(schema) > 0 {
		t.Schema = schema
	}
	t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &t, nil
}

func eventTypeNotFound(tenant, name string) error {
	if tenant == "" {
		return hookline.Errorf(hookline.ENOTFOUND, "event type %q not found", name)
	}
	return hookline.Errorf(hookline.ENOTFOUND, "event type %q of tenant %q not found", name, tenant)
}

// schemaArg returns the value a schema is stored as: NULL when there is none.
func schemaArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// CreateEventType stores a new catalog entry; one of the same tenant and
// name is ECONFLICT.
func (s *Store) CreateEventType(ctx context.Context, t *hookline.EventType) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO event_types (`+eventTypeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			t.Tenant, t.Name, t.Description, schemaArg(t.Schema), t.Deprecated, int64(t.Version), micros(t.CreatedAt), micros(t.UpdatedAt))
		return err
	})
	if isConstraint(err) {
		return hookline.Errorf(hookline.ECONFLICT, "event type %q already exists; change it with PATCH", t.Name)
	} else if err != nil {
		return fmt.Errorf("sqlite: create event type: %w", err)
	}
	return nil
}

// FindEventType returns the tenant's own entry of name, else the default
// one, else ENOTFOUND.
func (s *Store) FindEventType(ctx context.Context, tenant, name string) (*hookline.EventType, error) {
	t, err := scanEventType(s.rdb.QueryRowContext(ctx, `SELECT `+eventTypeColumns+` FROM event_types
		WHERE tenant IN (?, '') AND name = ? ORDER BY tenant DESC LIMIT 1`, tenant, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, eventTypeNotFound("", name)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find event type: %w", err)
	}
	return t, nil
}

// FindEventTypes returns a page of a tenant's catalog by name: its own
// entries and the default ones it does not override.
func (s *Store) FindEventTypes(ctx context.Context, f hookline.EventTypeFilter) ([]*hookline.EventType, string, error) {
	limit := pageLimit(f.Limit)
	query := `SELECT ` + eventTypeColumns + ` FROM event_types WHERE tenant = ?1 AND name > ?2`
	if f.Tenant != "" {
		query += ` UNION ALL SELECT ` + eventTypeColumns + ` FROM event_types d WHERE tenant = '' AND name > ?2
			AND NOT EXISTS (SELECT 1 FROM event_types o WHERE o.tenant = ?1 AND o.name = d.name)`
	}
	rows, err := s.rdb.QueryContext(ctx, query+` ORDER BY name LIMIT ?3`, f.Tenant, f.Cursor, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: find event types: %w", err)
	}
	defer rows.Close()
	var ts []*hookline.EventType
	for rows.Next() {
		t, err := scanEventType(rows)
		if err != nil {
			return nil, "", fmt.Errorf("sqlite: find event types: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("sqlite: find event types: %w", err)
	}
	ts, next := paginate(ts, limit, func(t *hookline.EventType) string { return t.Name })
	return ts, next, nil
}

// UpdateEventType applies u to the tenant's own entry of name, raising its
// version.
func (s *Store) UpdateEventType(ctx context.Context, tenant, name string, u hookline.EventTypeUpdate, now time.Time) (*hookline.EventType, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t *hookline.EventType
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanEventType(tx.QueryRowContext(ctx, `SELECT `+eventTypeColumns+` FROM event_types WHERE tenant = ? AND name = ?`, tenant, name))
		if errors.Is(err, sql.ErrNoRows) {
			return eventTypeNotFound(tenant, name)
		} else if err != nil {
			return err
		}
		t.Apply(u, truncate(now))
		_, err = tx.ExecContext(ctx, `UPDATE event_types SET description = ?, schema = ?, deprecated = ?, version = ?, updated_at = ?
			WHERE tenant = ? AND name = ?`, t.Description, schemaArg(t.Schema), t.Deprecated, int64(t.Version), micros(t.UpdatedAt), tenant, name)
		return err
	})
	if hookline.ErrorCode(err) == hookline.ENOTFOUND {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: update event type: %w", err)
	}
	return t, nil
}

// DeleteEventType deletes the tenant's own entry of name, or returns
// ENOTFOUND.
func (s *Store) DeleteEventType(ctx context.Context, tenant, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM event_types WHERE tenant = ? AND name = ?`, tenant, name)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete event type: %w", err)
	} else if n == 0 {
		return eventTypeNotFound(tenant, name)
	}
	return nil
}

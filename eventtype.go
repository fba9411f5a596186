package hookline

import (
	"context"
	"encoding/json"
	"time"
)

// EventType is an entry of the event type catalog: a type that events may
// have, what it means and, optionally, the JSON Schema (2020-12 unless it
// names another draft) that the data of its events must satisfy. The
// catalog is per tenant, with a shared default catalog of tenant "": for a
// tenant, its own entry of a name wins over the default one.
type EventType struct {
	Tenant      string `json:"tenant"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Schema is the JSON Schema of the data, as sent; nil when there is
	// none (any data is accepted).
	Schema     json.RawMessage `json:"schema"`
	Deprecated bool            `json:"deprecated"`
	// Version starts at 1 and grows by one with every change, so that a
	// schema is compiled once per version.
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// EventTypeUpdate is a partial update of a catalog entry: nil fields are
// left alone.
type EventTypeUpdate struct {
	Description *string
	// Schema, when SetSchema, replaces the schema (nil: none).
	SetSchema  bool
	Schema     json.RawMessage
	Deprecated *bool
}

// Apply applies u to t at time now and raises its version.
func (t *EventType) Apply(u EventTypeUpdate, now time.Time) {
	if u.Description != nil {
		t.Description = *u.Description
	}
	if u.SetSchema {
		t.Schema = u.Schema
	}
	if u.Deprecated != nil {
		t.Deprecated = *u.Deprecated
	}
	t.Version++
	t.UpdatedAt = now
}

// EventTypeFilter selects the catalog of one tenant: its own entries and
// the default entries (tenant "") it does not override. Results are ordered
// by name.
type EventTypeFilter struct {
	Tenant string
	Cursor string // names after this one; "" starts at the first
	Limit  int    // 0 means DefaultLimit
}

// MaxEventTypeDescription bounds the description of a catalog entry, in
// bytes.
const MaxEventTypeDescription = 1024

// EventTypeStore keeps the event type catalog. Both stores implement it.
type EventTypeStore interface {
	// CreateEventType stores a new entry; one of the same tenant and name
	// is ECONFLICT. t.Version, CreatedAt and UpdatedAt are set by the
	// caller.
	CreateEventType(ctx context.Context, t *EventType) error
	// FindEventType returns the entry that applies to a tenant: its own,
	// else the default one (tenant ""), else ENOTFOUND.
	FindEventType(ctx context.Context, tenant, name string) (*EventType, error)
	// FindEventTypes returns a page of the catalog of f.Tenant, by name,
	// and the cursor of the next page ("" on the last page).
	FindEventTypes(ctx context.Context, f EventTypeFilter) ([]*EventType, string, error)
	// UpdateEventType applies u to the tenant's own entry of name at time
	// now, raising its version, and returns it; ENOTFOUND when the tenant
	// has no entry of its own by that name.
	UpdateEventType(ctx context.Context, tenant, name string, u EventTypeUpdate, now time.Time) (*EventType, error)
	// DeleteEventType deletes the tenant's own entry, or returns ENOTFOUND.
	DeleteEventType(ctx context.Context, tenant, name string) error
}

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/eventschema"
)

// This file holds the event type catalog: POST/GET/PATCH/DELETE
// /v1/event-types, and the check of events against it at ingest.

// eventTypeRequest is the body of POST /v1/event-types, and of PATCH (where
// name and tenant may not be sent).
type eventTypeRequest struct {
	Name        *string         `json:"name"`
	Tenant      *string         `json:"tenant"`
	Description *string         `json:"description"`
	Schema      json.RawMessage `json:"schema"` // absent: nil; null: "null"
	Deprecated  *bool           `json:"deprecated"`
}

// validEventTypeName reports whether name can be a catalog entry: an exact
// event type, without wildcards.
func validEventTypeName(name string) bool {
	return hookline.ValidEventType(name) && !strings.Contains(name, "*")
}

// compileSchema checks a schema sent in the body: nil for none (absent or
// null).
func compileSchema(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if _, err := eventschema.Compile("schema", raw); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, hookline.Errorf(hookline.EINVALID, "schema: not valid JSON")
	}
	return b.Bytes(), nil
}

// checkDescription checks a description.
func checkDescription(d *string) error {
	if d != nil && len(*d) > hookline.MaxEventTypeDescription {
		return hookline.Errorf(hookline.EINVALID, "description: at most %d bytes", hookline.MaxEventTypeDescription)
	}
	return nil
}

// catalogTenant reads the tenant a catalog route acts on from the query:
// absent or empty is the default catalog (tenant "").
func catalogTenant(r *http.Request) (string, error) {
	t := r.URL.Query().Get("tenant")
	if err := checkTenant(t); err != nil {
		return "", err
	}
	return t, nil
}

// handleCreateEventType is POST /v1/event-types {"name", "tenant"?,
// "description"?, "schema"?, "deprecated"?}: a new entry of the catalog of
// tenant (the default catalog when absent). It answers 201 with the entry,
// 409 when the tenant has one of that name.
func (s *Server) handleCreateEventType(w http.ResponseWriter, r *http.Request) {
	var req eventTypeRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Name == nil || !validEventTypeName(*req.Name) {
		s.writeError(w, r, hookline.Errorf(hookline.EINVALID, "name: required; an event type of 1 to 256 printable ASCII characters without spaces or *"))
		return
	}
	tenant := ""
	if req.Tenant != nil {
		if err := checkTenant(*req.Tenant); err != nil {
			s.writeError(w, r, err)
			return
		}
		tenant = *req.Tenant
	}
	if err := checkDescription(req.Description); err != nil {
		s.writeError(w, r, err)
		return
	}
	schema, err := compileSchema(req.Schema)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := hookline.Now()
	et := &hookline.EventType{Tenant: tenant, Name: *req.Name, Schema: schema, Version: 1, CreatedAt: now, UpdatedAt: now}
	if req.Description != nil {
		et.Description = *req.Description
	}
	if req.Deprecated != nil {
		et.Deprecated = *req.Deprecated
	}
	if err := s.store.CreateEventType(r.Context(), et); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.catalog.forget()
	s.writeJSON(w, r, http.StatusCreated, et)
}

// handleListEventTypes is GET /v1/event-types?tenant=&limit=&cursor=: the
// catalog of a tenant by name, its own entries and the default ones it
// does not override. The cursor is the last name of the previous page.
func (s *Server) handleListEventTypes(w http.ResponseWriter, r *http.Request) {
	tenant, err := catalogTenant(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	f := hookline.EventTypeFilter{Tenant: tenant, Cursor: q.Get("cursor")}
	if f.Cursor != "" && !validEventTypeName(f.Cursor) {
		s.writeError(w, r, hookline.Errorf(hookline.EINVALID, "cursor: not a cursor from a previous page of this list (an event type name)"))
		return
	}
	lq := r.URL.Query() // the limit, without the cursor page checks as an ID
	lq.Del("cursor")
	if _, f.Limit, err = page(lq, ""); err != nil {
		s.writeError(w, r, err)
		return
	}
	ts, next, err := s.store.FindEventTypes(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, newList(ts, next))
}

// handleGetEventType is GET /v1/event-types/{name}?tenant=: the entry that
// applies to the tenant (its own, else the default one), or 404.
func (s *Server) handleGetEventType(w http.ResponseWriter, r *http.Request) {
	tenant, err := catalogTenant(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	et, err := s.store.FindEventType(r.Context(), tenant, r.PathValue("name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, et)
}

// handleUpdateEventType is PATCH /v1/event-types/{name}?tenant=
// {"description"?, "schema"? (null removes it), "deprecated"?}: changes the
// tenant's own entry and raises its version, or 404.
func (s *Server) handleUpdateEventType(w http.ResponseWriter, r *http.Request) {
	tenant, err := catalogTenant(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req eventTypeRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	switch {
	case req.Name != nil:
		err = hookline.Errorf(hookline.EINVALID, "name: cannot be changed; create a new type and deprecate this one")
	case req.Tenant != nil:
		err = hookline.Errorf(hookline.EINVALID, "tenant: cannot be changed; name it in the query (?tenant=)")
	default:
		err = checkDescription(req.Description)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u := hookline.EventTypeUpdate{Description: req.Description, Deprecated: req.Deprecated}
	if req.Schema != nil {
		if u.Schema, err = compileSchema(req.Schema); err != nil {
			s.writeError(w, r, err)
			return
		}
		u.SetSchema = true
	}
	et, err := s.store.UpdateEventType(r.Context(), tenant, r.PathValue("name"), u, hookline.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.catalog.forget()
	s.writeJSON(w, r, http.StatusOK, et)
}

// handleDeleteEventType is DELETE /v1/event-types/{name}?tenant=: the
// tenant's own entry goes (a default one of that name applies again). It
// answers 204, or 404.
func (s *Server) handleDeleteEventType(w http.ResponseWriter, r *http.Request) {
	tenant, err := catalogTenant(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.DeleteEventType(r.Context(), tenant, r.PathValue("name")); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.catalog.forget()
	w.WriteHeader(http.StatusNoContent)
}

// catalogCacheTTL is how long a node trusts what the store said about a
// type of a tenant: a change made on another node applies here within it
// (at once on the node that made it, which forgets everything it cached).
const catalogCacheTTL = time.Second

// maxCachedTypes bounds the catalog cache, so that a flood of made-up types
// costs lookups, not memory.
const maxCachedTypes = 8192

// catalogCache remembers, per (tenant, type), the entry that applies and
// its compiled schema, for catalogCacheTTL. A schema is compiled once per
// version of its entry: a refresh that finds the same version keeps the
// compiled schema.
type catalogCache struct {
	store   hookline.EventTypeStore
	require bool // unknown types are refused

	mu      sync.Mutex
	entries map[string]catalogEntry
}

// catalogEntry is one answer of the store, compiled.
type catalogEntry struct {
	et     *hookline.EventType // nil: no such type
	schema *eventschema.Schema // nil: none
	at     time.Time
}

func newCatalogCache(store hookline.EventTypeStore, require bool) *catalogCache {
	return &catalogCache{store: store, require: require, entries: make(map[string]catalogEntry)}
}

// forget drops every cached answer, after a change of the catalog on this
// node (a change of a default entry touches every tenant).
func (c *catalogCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}

// lookup returns the cached entry of (tenant, name), refreshing it from the
// store when it is older than catalogCacheTTL.
func (c *catalogCache) lookup(ctx context.Context, tenant, name string) (catalogEntry, error) {
	key := tenant + "\x00" + name
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < catalogCacheTTL && !now.Before(e.at) {
		return e, nil
	}
	et, err := c.store.FindEventType(ctx, tenant, name)
	if hookline.ErrorCode(err) == hookline.ENOTFOUND {
		et, err = nil, nil
	}
	if err != nil {
		return catalogEntry{}, err
	}
	fresh := catalogEntry{et: et, at: now}
	if et != nil && len(et.Schema) > 0 {
		if ok && e.et != nil && e.et.Tenant == et.Tenant && e.et.Version == et.Version && e.schema != nil {
			fresh.schema = e.schema
		} else if fresh.schema, err = eventschema.Compile("schema", et.Schema); err != nil {
			// Stored schemas were checked when they were sent.
			return catalogEntry{}, hookline.Errorf(hookline.EINTERNAL, "event type %q: stored schema does not compile: %v", name, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedTypes {
		clear(c.entries)
	}
	c.entries[key] = fresh
	return fresh, nil
}

// check checks an event against the catalog of its tenant: with a schema,
// its data must satisfy it (EINVALID naming the path under at); an unknown
// type is EINVALID only when the catalog is required. at is the event's
// path in the request ("" for a single event).
func (c *catalogCache) check(ctx context.Context, at string, ev *hookline.Event) error {
	e, err := c.lookup(ctx, ev.Tenant, ev.Type)
	if err != nil {
		return err
	}
	if e.et == nil {
		if c.require {
			return hookline.Errorf(hookline.EINVALID, "%s: %q is not in the event type catalog, and this server requires it (--require-event-types); create it with POST /v1/event-types", join(at, "type"), ev.Type)
		}
		return nil
	}
	if e.schema == nil {
		return nil
	}
	return e.schema.Validate(join(at, "data"), ev.Data)
}

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/filter"
	"github.com/hookline/hookline/internal/epcodec"
	"github.com/hookline/hookline/internal/secretbox"
)

// endpointCache is the in-memory copy of the endpoints table: every
// endpoint by ID, for the snapshots tasks carry, and the enabled ones by
// tenant, for the fan-out of ingest. It is loaded at Open and changed only
// by the store's writes, after they commit, under Store.mu.
//
// Its *hookline.Endpoint values are immutable snapshots: a change replaces
// the entry and never modifies it, so a Task may keep pointing at one.
type endpointCache struct {
	byID     map[string]*cachedEndpoint
	tenant   map[string][]*cachedEndpoint // enabled endpoints only
	disabled int                          // how many are disabled
}

// cachedEndpoint is an endpoint snapshot with its partition and compiled
// filter.
type cachedEndpoint struct {
	ep        *hookline.Endpoint
	partition int
	filter    *filter.Filter // nil: none
}

// matches reports whether an event fans out to the endpoint; docs holds
// the events' documents, made only for endpoints with a filter.
func (ce *cachedEndpoint) matches(ev *hookline.Event, docs *filter.Docs) bool {
	if !ce.ep.Matches(ev.Type) {
		return false
	}
	return ce.filter == nil || ce.filter.Match(docs.Of(ev))
}

// loadEndpoints reads every endpoint, its secrets opened with box, and
// returns the cache of them, those whose stored secrets are not as box
// would store them now (see resealSecrets), and whether any of those holds
// a secret in plain.
func loadEndpoints(ctx context.Context, db *sql.DB, box *secretbox.Box) (c *endpointCache, stale []*hookline.Endpoint, plain bool, err error) {
	c = &endpointCache{byID: make(map[string]*cachedEndpoint), tenant: make(map[string][]*cachedEndpoint)}
	rows, err := db.QueryContext(ctx, "SELECT "+endpointColumns+" FROM endpoints WHERE deleted_at IS NULL")
	if err != nil {
		return nil, nil, false, fmt.Errorf("load endpoints: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		ep, opts, err := scanEndpoint(rows)
		if err != nil {
			return nil, nil, false, fmt.Errorf("load endpoints: %w", err)
		}
		current := box.Current(ep.Secret) && box.Current(ep.PreviousSecret) && epcodec.Current(box, opts)
		hasPlain := (ep.Secret != "" && !secretbox.IsSealed(ep.Secret)) || (ep.PreviousSecret != "" && !secretbox.IsSealed(ep.PreviousSecret)) ||
			epcodec.Plain(opts)
		if err := openSecrets(box, ep, opts); err != nil {
			return nil, nil, false, fmt.Errorf("load endpoints: %w", err)
		}
		c.put(ep)
		if !current {
			stale, plain = append(stale, ep), plain || hasPlain
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, false, fmt.Errorf("load endpoints: %w", err)
	}
	return c, stale, plain, nil
}

// get returns the snapshot of an endpoint, nil if there is none.
func (c *endpointCache) get(id string) *cachedEndpoint { return c.byID[id] }

// subscribers returns the enabled endpoints of a tenant. The slice must not
// be modified.
func (c *endpointCache) subscribers(tenant string) []*cachedEndpoint { return c.tenant[tenant] }

// put adds or replaces an endpoint; ep must not be modified afterwards.
func (c *endpointCache) put(ep *hookline.Endpoint) {
	c.remove(ep.ID)
	ce := &cachedEndpoint{ep: ep, partition: ep.Partition(), filter: filter.Stored(ep.Filter)}
	c.byID[ep.ID] = ce
	if ep.Disabled {
		c.disabled++
	} else {
		c.tenant[ep.Tenant] = append(c.tenant[ep.Tenant], ce)
	}
}

// remove drops an endpoint.
func (c *endpointCache) remove(id string) {
	old := c.byID[id]
	if old == nil {
		return
	}
	delete(c.byID, id)
	if old.ep.Disabled {
		c.disabled--
		return
	}
	// Copy on write: a slice handed out by subscribers is never changed.
	subs := slices.DeleteFunc(slices.Clone(c.tenant[old.ep.Tenant]), func(ce *cachedEndpoint) bool { return ce == old })
	if len(subs) == 0 {
		delete(c.tenant, old.ep.Tenant)
	} else {
		c.tenant[old.ep.Tenant] = subs
	}
}

// cloneEndpoint returns a deep copy of ep, so that callers and the cache
// never share one.
func cloneEndpoint(ep *hookline.Endpoint) *hookline.Endpoint {
	c := *ep
	c.EventTypes = slices.Clone(ep.EventTypes)
	if ep.Batch != nil {
		b := *ep.Batch
		c.Batch = &b
	}
	c.Filter = slices.Clone(ep.Filter)
	epcodec.Clone(&c, ep)
	return &c
}

const endpointColumns = `id, tenant, url, description, event_types, secret, disabled, disabled_reason,
	rate_limit, max_in_flight, ordering, batch_max_events, batch_max_wait_ms, created_at, updated_at,
	previous_secret, previous_secret_expires_at, filter, headers, auth, timeout_ms, retry_schedule, version, deleted_at IS NOT NULL`

type scanner interface{ Scan(dest ...any) error }

// scanEndpoint reads an endpoint row, its secrets as stored (sealed or
// plain; see openSecrets) and its options as stored.
func scanEndpoint(row scanner) (*hookline.Endpoint, epcodec.Stored, error) {
	var ep hookline.Endpoint
	var opts epcodec.Stored
	var types string
	var created, updated, prevExpires int64
	var batchEvents, batchWait int
	var flt sql.NullString
	if err := row.Scan(&ep.ID, &ep.Tenant, &ep.URL, &ep.Description, &types, &ep.Secret,
		&ep.Disabled, &ep.DisabledReason, &ep.RateLimit, &ep.MaxInFlight, &ep.Ordering, &batchEvents, &batchWait,
		&created, &updated, &ep.PreviousSecret, &prevExpires, &flt,
		&opts.Headers, &opts.Auth, &opts.TimeoutMS, &opts.RetrySchedule, &ep.Version, &ep.Deleted); err != nil {
		return nil, opts, err
	}
	if flt.Valid {
		ep.Filter = json.RawMessage(flt.String)
	}
	if ep.PreviousSecret != "" {
		ep.PreviousSecretExpiresAt = fromMicros(prevExpires)
	}
	if batchEvents > 0 {
		ep.Batch = &hookline.Batch{MaxEvents: batchEvents, MaxWaitMS: batchWait}
	}
	if err := json.Unmarshal([]byte(types), &ep.EventTypes); err != nil {
		return nil, opts, fmt.Errorf("endpoint %s: event_types: %w", ep.ID, err)
	}
	ep.CreatedAt, ep.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &ep, opts, nil
}

// readEndpoint reads an endpoint row with its secrets opened.
func (s *Store) readEndpoint(row scanner) (*hookline.Endpoint, error) {
	ep, opts, err := scanEndpoint(row)
	if err != nil {
		return nil, err
	}
	if err := openSecrets(s.box, ep, opts); err != nil {
		return nil, err
	}
	return ep, nil
}

// openSecrets replaces the secrets of ep as stored with their plain values.
// Its errors name the endpoint and the key ID, never a secret.
func openSecrets(box *secretbox.Box, ep *hookline.Endpoint, opts epcodec.Stored) error {
	if err := epcodec.Decode(box, ep, opts); err != nil {
		return err
	}
	var err error
	if ep.Secret, err = box.Open(ep.Secret, ep.ID); err != nil {
		return fmt.Errorf("endpoint %s: secret: %w", ep.ID, err)
	}
	if ep.PreviousSecret, err = box.Open(ep.PreviousSecret, ep.ID); err != nil {
		return fmt.Errorf("endpoint %s: previous secret: %w", ep.ID, err)
	}
	return nil
}

// CreateEndpoint stores a new endpoint. An endpoint with the same ID is a
// conflict.
func (s *Store) CreateEndpoint(ctx context.Context, e *hookline.Endpoint) error {
	types, err := json.Marshal(e.EventTypes)
	if err != nil {
		return fmt.Errorf("sqlite: create endpoint: %w", err)
	}
	opts, err := epcodec.Encode(s.box, e)
	if err != nil {
		return fmt.Errorf("sqlite: create endpoint: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	version := s.version.Load() + 1
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO endpoints (`+insertColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.Tenant, e.URL, e.Description, string(types), s.box.Seal(e.Secret, e.ID), e.Disabled, e.DisabledReason,
			e.RateLimit, int64(e.MaxInFlight), ordering(e.Ordering), batchEvents(e.Batch), batchWait(e.Batch),
			micros(e.CreatedAt), micros(e.UpdatedAt), s.box.Seal(e.PreviousSecret, e.ID), previousExpiry(e), filterArg(e.Filter),
			opts.Headers, opts.Auth, opts.TimeoutMS, opts.RetrySchedule, version)
		return err
	})
	if isConstraint(err) {
		return hookline.Errorf(hookline.ECONFLICT, "endpoint %s already exists", e.ID)
	} else if err != nil {
		return fmt.Errorf("sqlite: create endpoint: %w", err)
	}
	s.version.Store(version)
	e.Version, e.Deleted = version, false
	snap := cloneEndpoint(e)
	snap.CreatedAt, snap.UpdatedAt = truncate(e.CreatedAt), truncate(e.UpdatedAt)
	snap.PreviousSecretExpiresAt = time.Time{}
	if e.PreviousSecret != "" {
		snap.PreviousSecretExpiresAt = truncate(e.PreviousSecretExpiresAt)
	}
	s.endpoints.put(snap)
	s.counts.apply(&countsDelta{total: hookline.StoreStats{Endpoints: 1}})
	return nil
}

// FindEndpoint returns one endpoint, secret included, or ENOTFOUND.
func (s *Store) FindEndpoint(ctx context.Context, id string) (*hookline.Endpoint, error) {
	ep, err := s.readEndpoint(s.rdb.QueryRowContext(ctx, "SELECT "+endpointColumns+" FROM endpoints WHERE id = ? AND deleted_at IS NULL", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, endpointNotFound(id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find endpoint: %w", err)
	}
	return ep, nil
}

func endpointNotFound(id string) error {
	return hookline.Errorf(hookline.ENOTFOUND, "endpoint %s not found", id)
}

// FindEndpoints returns a page of endpoints, newest first, and the cursor of
// the next page ("" on the last page).
func (s *Store) FindEndpoints(ctx context.Context, f hookline.EndpointFilter) ([]*hookline.Endpoint, string, error) {
	where := []string{"deleted_at IS NULL"}
	var args []any
	if f.Tenant != nil {
		where, args = append(where, "tenant = ?"), append(args, *f.Tenant)
	}
	if f.Cursor != "" {
		where, args = append(where, "id < ?"), append(args, f.Cursor)
	}
	limit := pageLimit(f.Limit)
	args = append(args, limit+1)
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+endpointColumns+" FROM endpoints"+whereClause(where)+
		" ORDER BY id DESC LIMIT ?", args...)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: find endpoints: %w", err)
	}
	defer rows.Close()
	var eps []*hookline.Endpoint
	for rows.Next() {
		ep, err := s.readEndpoint(rows)
		if err != nil {
			return nil, "", fmt.Errorf("sqlite: find endpoints: %w", err)
		}
		eps = append(eps, ep)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("sqlite: find endpoints: %w", err)
	}
	eps, next := paginate(eps, limit, func(ep *hookline.Endpoint) string { return ep.ID })
	return eps, next, nil
}

// UpdateEndpoint applies u to an endpoint at time now and returns it, or
// ENOTFOUND. Later fan-out and tasks see the change. Enabling a disabled
// endpoint clears its reason and resets its saved health.
func (s *Store) UpdateEndpoint(ctx context.Context, id string, u hookline.EndpointUpdate, now time.Time) (*hookline.Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.endpoints.get(id)
	if cur == nil {
		return nil, endpointNotFound(id)
	}
	ep := cloneEndpoint(cur.ep)
	if u.URL != nil {
		ep.URL = *u.URL
	}
	if u.Description != nil {
		ep.Description = *u.Description
	}
	if u.EventTypes != nil {
		ep.EventTypes = slices.Clone(*u.EventTypes)
	}
	now = truncate(now)
	if u.Secret != nil {
		ep.PreviousSecret, ep.PreviousSecretExpiresAt = "", time.Time{}
		if u.KeepPreviousUntil != nil && truncate(*u.KeepPreviousUntil).After(now) {
			ep.PreviousSecret, ep.PreviousSecretExpiresAt = ep.Secret, truncate(*u.KeepPreviousUntil)
		}
		ep.Secret = *u.Secret
	}
	if !ep.SignsWithPrevious(now) {
		ep.PreviousSecret, ep.PreviousSecretExpiresAt = "", time.Time{}
	}
	if u.Disabled != nil {
		ep.Disabled = *u.Disabled
	}
	if u.DisabledReason != nil {
		ep.DisabledReason = *u.DisabledReason
	}
	if !ep.Disabled {
		ep.DisabledReason = ""
	}
	if u.RateLimit != nil {
		ep.RateLimit = *u.RateLimit
	}
	if u.MaxInFlight != nil {
		ep.MaxInFlight = *u.MaxInFlight
	}
	if u.Ordering != nil {
		ep.Ordering = *u.Ordering
	}
	if u.SetBatch {
		ep.Batch = nil
		if u.Batch != nil {
			b := *u.Batch
			ep.Batch = &b
		}
	}
	if u.SetFilter {
		ep.Filter = slices.Clone(u.Filter)
	}
	epcodec.Apply(ep, &u)
	ep.UpdatedAt = now
	ep.Version = s.version.Load() + 1
	reenabled := cur.ep.Disabled && !ep.Disabled
	types, err := json.Marshal(ep.EventTypes)
	if err != nil {
		return nil, fmt.Errorf("sqlite: update endpoint: %w", err)
	}
	opts, err := epcodec.Encode(s.box, ep)
	if err != nil {
		return nil, fmt.Errorf("sqlite: update endpoint: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE endpoints SET url = ?, description = ?, event_types = ?,
			secret = ?, disabled = ?, disabled_reason = ?, rate_limit = ?, max_in_flight = ?, ordering = ?,
			batch_max_events = ?, batch_max_wait_ms = ?, updated_at = ?,
			previous_secret = ?, previous_secret_expires_at = ?, filter = ?,
			headers = ?, auth = ?, timeout_ms = ?, retry_schedule = ?, version = ?
			WHERE id = ?`,
			ep.URL, ep.Description, string(types), s.box.Seal(ep.Secret, id), ep.Disabled, ep.DisabledReason,
			ep.RateLimit, int64(ep.MaxInFlight), ordering(ep.Ordering), batchEvents(ep.Batch), batchWait(ep.Batch),
			micros(ep.UpdatedAt), s.box.Seal(ep.PreviousSecret, id), previousExpiry(ep), filterArg(ep.Filter),
			opts.Headers, opts.Auth, opts.TimeoutMS, opts.RetrySchedule, ep.Version, id)
		if err != nil || !reenabled {
			return err
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM endpoint_health WHERE endpoint_id = ?", id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: update endpoint: %w", err)
	}
	s.version.Store(ep.Version)
	s.endpoints.put(ep)
	if reenabled {
		s.counts.setCircuit(id, hookline.CircuitClosed)
	}
	return cloneEndpoint(ep), nil
}

// DeleteEndpoint deletes an endpoint at now and returns its last snapshot,
// or ENOTFOUND: one UPDATE of its row (deleted_at set, secrets cleared) and
// the delete of its health. Its deliveries stay until PurgeDeleted, but it
// is gone from memory at once, so from fan-out and ClaimDue too.
func (s *Store) DeleteEndpoint(ctx context.Context, id string, now time.Time) (*hookline.Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.endpoints.get(id)
	if cur == nil {
		return nil, endpointNotFound(id)
	}
	ep := cloneEndpoint(cur.ep)
	ep.UpdatedAt, ep.Version, ep.Deleted = truncate(now), s.version.Load()+1, true
	ep.Secret, ep.PreviousSecret, ep.PreviousSecretExpiresAt = "", "", time.Time{}
	ep.Headers, ep.Auth = nil, nil
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE endpoints SET deleted_at = ?, updated_at = ?, version = ?,
			secret = '', previous_secret = '', previous_secret_expires_at = 0,
			headers = '', auth = '' WHERE id = ?`,
			micros(ep.UpdatedAt), micros(ep.UpdatedAt), ep.Version, id)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM endpoint_health WHERE endpoint_id = ?", id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: delete endpoint: %w", err)
	}
	s.version.Store(ep.Version)
	s.endpoints.remove(id)
	s.counts.endpointDeleted(id)
	return ep, nil
}

// EndpointChanges returns up to limit endpoints written after version
// since, in version order, deleted ones included, and the since of the next
// call. It reads the database, not memory, up to the latest version that
// has committed.
func (s *Store) EndpointChanges(ctx context.Context, since int64, limit int) ([]*hookline.Endpoint, int64, error) {
	latest := s.version.Load()
	if limit <= 0 || latest <= since {
		return nil, latest, nil
	}
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+endpointColumns+` FROM endpoints INDEXED BY endpoints_by_version
		WHERE version > ? AND version <= ? ORDER BY version LIMIT ?`, since, latest, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: endpoint changes: %w", err)
	}
	defer rows.Close()
	var eps []*hookline.Endpoint
	for rows.Next() {
		ep, err := s.readEndpoint(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("sqlite: endpoint changes: %w", err)
		}
		eps = append(eps, ep)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("sqlite: endpoint changes: %w", err)
	}
	if len(eps) == limit {
		return eps, eps[len(eps)-1].Version, nil
	}
	return eps, latest, nil
}

// insertColumns are the columns a new endpoint is written with.
const insertColumns = `id, tenant, url, description, event_types, secret, disabled, disabled_reason,
	rate_limit, max_in_flight, ordering, batch_max_events, batch_max_wait_ms, created_at, updated_at,
	previous_secret, previous_secret_expires_at, filter, headers, auth, timeout_ms, retry_schedule, version`

// whereClause joins conditions with AND.
func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// paginate cuts a list read with limit+1 rows to limit and returns the
// cursor of the next page: the ID of the last item kept, or "" when nothing
// was cut.
func paginate[T any](items []T, limit int, id func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, id(items[limit-1])
}

// truncate returns t in UTC to the microsecond, as the store keeps it.
func truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// ordering returns an endpoint's ordering as stored.
func ordering(o string) string {
	if o == "" {
		return hookline.OrderingNone
	}
	return o
}

// previousExpiry returns when an endpoint's previous secret expires, as
// stored: 0 when it has none.
func previousExpiry(ep *hookline.Endpoint) int64 {
	if ep.PreviousSecret == "" {
		return 0
	}
	return micros(ep.PreviousSecretExpiresAt)
}

// filterArg returns an endpoint's filter as stored: NULL for none.
func filterArg(f json.RawMessage) any {
	if len(f) == 0 {
		return nil
	}
	return string(f)
}

// batchEvents and batchWait return an endpoint's batch settings as stored:
// 0 events for none.
func batchEvents(b *hookline.Batch) int64 {
	if b == nil {
		return 0
	}
	return int64(b.MaxEvents)
}

func batchWait(b *hookline.Batch) int64 {
	if b == nil {
		return 0
	}
	return int64(b.MaxWaitMS)
}

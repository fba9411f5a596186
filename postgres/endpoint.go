package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/filter"
	"github.com/hookline/hookline/internal/epcodec"
	"github.com/hookline/hookline/internal/secretbox"
)

const endpointColumns = `id, tenant, url, description, event_types, secret, disabled, disabled_reason,
	rate_limit, max_in_flight, ordering, batch_max_events, batch_max_wait_ms, created_at, updated_at,
	previous_secret, previous_secret_expires_at, filter, headers, auth, timeout_ms, retry_schedule, version, deleted_at`

// insertColumns are the columns a new endpoint is written with; its
// version comes from the trigger endpoints_versioned.
const insertColumns = `id, tenant, url, description, event_types, secret, disabled, disabled_reason,
	rate_limit, max_in_flight, ordering, batch_max_events, batch_max_wait_ms, created_at, updated_at,
	previous_secret, previous_secret_expires_at, filter, headers, auth, timeout_ms, retry_schedule`

// endpointFields returns the destinations of endpointColumns for ep, and a
// function that finishes ep once they are scanned, opening its secrets with
// box (see openSecrets).
func endpointFields(ep *hookline.Endpoint, box *secretbox.Box) ([]any, func() error) {
	var maxInFlight, batchEvents, batchWait int32
	var prevExpires, deleted *time.Time
	var flt *string
	var opts epcodec.Stored
	return []any{&ep.ID, &ep.Tenant, &ep.URL, &ep.Description, &ep.EventTypes, &ep.Secret,
			&ep.Disabled, &ep.DisabledReason, &ep.RateLimit, &maxInFlight, &ep.Ordering, &batchEvents, &batchWait,
			&ep.CreatedAt, &ep.UpdatedAt, &ep.PreviousSecret, &prevExpires, &flt,
			&opts.Headers, &opts.Auth, &opts.TimeoutMS, &opts.RetrySchedule, &ep.Version, &deleted}, func() error {
			ep.MaxInFlight, ep.Deleted = int(maxInFlight), deleted != nil
			if flt != nil {
				ep.Filter = json.RawMessage(*flt)
			}
			if batchEvents > 0 {
				ep.Batch = &hookline.Batch{MaxEvents: int(batchEvents), MaxWaitMS: int(batchWait)}
			}
			ep.CreatedAt, ep.UpdatedAt = ep.CreatedAt.UTC(), ep.UpdatedAt.UTC()
			if prevExpires != nil && ep.PreviousSecret != "" {
				ep.PreviousSecretExpiresAt = prevExpires.UTC()
			}
			if err := epcodec.Decode(box, ep, opts); err != nil {
				return err
			}
			return openSecrets(box, ep)
		}
}

// scanEndpoint reads an endpoint row, its secrets opened with box.
func scanEndpoint(row pgx.Row, box *secretbox.Box) (*hookline.Endpoint, error) {
	var ep hookline.Endpoint
	fields, finish := endpointFields(&ep, box)
	if err := row.Scan(fields...); err != nil {
		return nil, err
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return &ep, nil
}

// openSecrets replaces the secrets of ep as stored with their plain values.
// Its errors name the endpoint and the key ID, never a secret.
func openSecrets(box *secretbox.Box, ep *hookline.Endpoint) error {
	var err error
	if ep.Secret, err = box.Open(ep.Secret, ep.ID); err != nil {
		return fmt.Errorf("endpoint %s: secret: %w", ep.ID, err)
	}
	if ep.PreviousSecret, err = box.Open(ep.PreviousSecret, ep.ID); err != nil {
		return fmt.Errorf("endpoint %s: previous secret: %w", ep.ID, err)
	}
	return nil
}

func endpointNotFound(id string) error {
	return hookline.Errorf(hookline.ENOTFOUND, "endpoint %s not found", id)
}

// CreateEndpoint stores a new endpoint. An endpoint with the same ID is a
// conflict.
func (s *Store) CreateEndpoint(ctx context.Context, e *hookline.Endpoint) error {
	opts, err := epcodec.Encode(s.box, e)
	if err != nil {
		return fmt.Errorf("postgres: create endpoint: %w", err)
	}
	var version int64
	err = s.pool.QueryRow(ctx, `INSERT INTO endpoints (`+insertColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) RETURNING version`,
		e.ID, e.Tenant, e.URL, e.Description, e.EventTypes, s.box.Seal(e.Secret, e.ID), e.Disabled, e.DisabledReason,
		e.RateLimit, int32(e.MaxInFlight), ordering(e.Ordering), batchEvents(e.Batch), batchWait(e.Batch),
		truncate(e.CreatedAt), truncate(e.UpdatedAt), s.box.Seal(e.PreviousSecret, e.ID), previousExpiry(e), filterArg(e.Filter),
		opts.Headers, opts.Auth, opts.TimeoutMS, opts.RetrySchedule).Scan(&version)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		return hookline.Errorf(hookline.ECONFLICT, "endpoint %s already exists", e.ID)
	} else if err != nil {
		return s.wrap("create endpoint", err)
	}
	e.Version, e.Deleted = version, false
	s.notify.endpoints()
	return nil
}

// FindEndpoint returns one endpoint, secret included, or ENOTFOUND.
func (s *Store) FindEndpoint(ctx context.Context, id string) (*hookline.Endpoint, error) {
	ep, err := scanEndpoint(s.pool.QueryRow(ctx, "SELECT "+endpointColumns+" FROM endpoints WHERE id = $1 AND deleted_at IS NULL", id), s.box)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, endpointNotFound(id)
	} else if err != nil {
		return nil, s.wrap("find endpoint", err)
	}
	return ep, nil
}

// FindEndpoints returns a page of endpoints, newest first, and the cursor of
// the next page ("" on the last page).
func (s *Store) FindEndpoints(ctx context.Context, f hookline.EndpointFilter) ([]*hookline.Endpoint, string, error) {
	where := []string{"deleted_at IS NULL"}
	var args []any
	if f.Tenant != nil {
		args = append(args, *f.Tenant)
		where = append(where, fmt.Sprintf("tenant = $%d", len(args)))
	}
	if f.Cursor != "" {
		args = append(args, f.Cursor)
		where = append(where, fmt.Sprintf("id < $%d", len(args)))
	}
	limit := pageLimit(f.Limit)
	args = append(args, limit+1)
	rows, err := s.pool.Query(ctx, "SELECT "+endpointColumns+" FROM endpoints"+whereClause(where)+
		fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, "", s.wrap("find endpoints", err)
	}
	eps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*hookline.Endpoint, error) { return scanEndpoint(row, s.box) })
	if err != nil {
		return nil, "", s.wrap("find endpoints", err)
	}
	eps, next := paginate(eps, limit, func(ep *hookline.Endpoint) string { return ep.ID })
	return eps, next, nil
}

// UpdateEndpoint applies u to an endpoint at time now and returns it, or
// ENOTFOUND. The next ingest on any node sees the change, and every node's
// EndpointChanges (which the other nodes are told to read). Enabling a
// disabled endpoint clears its reason and deletes its saved health, in the
// same statement.
func (s *Store) UpdateEndpoint(ctx context.Context, id string, u hookline.EndpointUpdate, now time.Time) (*hookline.Endpoint, error) {
	// event_types may be set to NULL, so it has a flag of its own.
	var types []string
	if u.EventTypes != nil {
		types = *u.EventTypes
	}
	var maxInFlight *int32
	if u.MaxInFlight != nil {
		m := int32(*u.MaxInFlight)
		maxInFlight = &m
	}
	var keepUntil *time.Time
	if u.Secret != nil && u.KeepPreviousUntil != nil {
		t := truncate(*u.KeepPreviousUntil)
		keepUntil = &t
	}
	var secret *string
	if u.Secret != nil {
		sealed := s.box.Seal(*u.Secret, id)
		secret = &sealed
	}
	// The options set, as stored: encoded alone, then applied by flag.
	set := &hookline.Endpoint{ID: id}
	epcodec.Apply(set, &u)
	opts, err := epcodec.Encode(s.box, set)
	if err != nil {
		return nil, fmt.Errorf("postgres: update endpoint: %w", err)
	}
	var timeoutMS *int64
	if u.Timeout != nil {
		timeoutMS = &opts.TimeoutMS
	}
	ep, err := scanEndpoint(s.pool.QueryRow(ctx, `WITH old AS (
			SELECT disabled FROM endpoints WHERE id = $1 AND deleted_at IS NULL),
		upd AS (UPDATE endpoints SET
			url = coalesce($2, url), description = coalesce($3, description),
			event_types = CASE WHEN $4 THEN $5 ELSE event_types END,
			secret = coalesce($6, secret), disabled = coalesce($7, disabled),
			previous_secret = CASE
				WHEN $6::text IS NOT NULL THEN CASE WHEN $16::timestamptz > $8 THEN secret ELSE '' END
				WHEN previous_secret_expires_at > $8 THEN previous_secret ELSE '' END,
			previous_secret_expires_at = CASE
				WHEN $6::text IS NOT NULL THEN CASE WHEN $16::timestamptz > $8 THEN $16::timestamptz END
				WHEN previous_secret_expires_at > $8 THEN previous_secret_expires_at END,
			disabled_reason = CASE WHEN coalesce($7, disabled) THEN coalesce($9, disabled_reason) ELSE '' END,
			rate_limit = coalesce($10, rate_limit), max_in_flight = coalesce($11, max_in_flight),
			ordering = coalesce($12, ordering),
			batch_max_events = CASE WHEN $13 THEN $14 ELSE batch_max_events END,
			batch_max_wait_ms = CASE WHEN $13 THEN $15 ELSE batch_max_wait_ms END,
			filter = CASE WHEN $17 THEN $18 ELSE filter END,
			headers = CASE WHEN $19 THEN $20 ELSE headers END,
			auth = CASE WHEN $21 THEN $22 ELSE auth END,
			timeout_ms = coalesce($23, timeout_ms),
			retry_schedule = CASE WHEN $24 THEN $25 ELSE retry_schedule END,
			updated_at = $8
			WHERE id = $1 AND deleted_at IS NULL RETURNING `+endpointColumns+`),
		reset AS (DELETE FROM endpoint_health WHERE endpoint_id = $1
			AND (SELECT disabled FROM old) AND NOT (SELECT disabled FROM upd))
		SELECT `+endpointColumns+` FROM upd`,
		id, u.URL, u.Description, u.EventTypes != nil, types, secret, u.Disabled, truncate(now),
		u.DisabledReason, u.RateLimit, maxInFlight, u.Ordering, u.SetBatch, batchEvents(u.Batch), batchWait(u.Batch),
		keepUntil, u.SetFilter, filterArg(u.Filter), u.SetHeaders, opts.Headers, u.SetAuth, opts.Auth,
		timeoutMS, u.SetRetrySchedule, opts.RetrySchedule), s.box)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, endpointNotFound(id)
	} else if err != nil {
		return nil, s.wrap("update endpoint", err)
	}
	s.notify.endpoints()
	return ep, nil
}

// deleteBatch is how many deliveries one statement of Prune deletes, with
// their attempts, so that their IDs stay few in memory.
const deleteBatch = 10_000

// DeleteEndpoint deletes an endpoint at now and returns its last snapshot,
// or ENOTFOUND: one statement sets deleted_at and clears its secrets, and
// deletes its health. Like any endpoint write it bumps endpoints_version,
// which waits for the ingests under way to commit and keeps new ones out
// until it commits, so no delivery for it is written behind its back; but
// it touches no delivery, so that wait is as short as an update's.
// PurgeDeleted deletes its deliveries later.
func (s *Store) DeleteEndpoint(ctx context.Context, id string, now time.Time) (*hookline.Endpoint, error) {
	var ep *hookline.Endpoint
	err := s.retry(ctx, "delete endpoint", func() error {
		var err error
		ep, err = scanEndpoint(s.pool.QueryRow(ctx, `WITH upd AS (
				UPDATE endpoints SET deleted_at = $2, updated_at = $2,
					secret = '', previous_secret = '', previous_secret_expires_at = NULL,
					headers = '', auth = ''
				WHERE id = $1 AND deleted_at IS NULL RETURNING `+endpointColumns+`),
			health AS (DELETE FROM endpoint_health WHERE endpoint_id = $1)
			SELECT `+endpointColumns+` FROM upd`, id, truncate(now)), s.box)
		if errors.Is(err, pgx.ErrNoRows) {
			return endpointNotFound(id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	s.notify.endpoints()
	return ep, nil
}

// EndpointChanges returns up to limit endpoints written after version since,
// in version order, deleted ones included, and the since of the next call.
//
// It reads the latest version first, then the rows up to it: versions are
// taken under the lock of endpoints_version and commit in order, so once the
// latest is visible every row with a smaller one is too (or rolled back),
// and a row written later has a greater one.
func (s *Store) EndpointChanges(ctx context.Context, since int64, limit int) ([]*hookline.Endpoint, int64, error) {
	var latest int64
	if err := s.pool.QueryRow(ctx, "SELECT version FROM endpoints_version").Scan(&latest); err != nil {
		return nil, 0, s.wrap("endpoint changes", err)
	}
	if limit <= 0 || latest <= since {
		return nil, latest, nil
	}
	rows, err := s.pool.Query(ctx, "SELECT "+endpointColumns+` FROM endpoints
		WHERE version > $1 AND version <= $2 ORDER BY version LIMIT $3`, since, latest, limit)
	if err != nil {
		return nil, 0, s.wrap("endpoint changes", err)
	}
	eps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*hookline.Endpoint, error) { return scanEndpoint(row, s.box) })
	if err != nil {
		return nil, 0, s.wrap("endpoint changes", err)
	}
	if len(eps) == limit {
		return eps, eps[len(eps)-1].Version, nil
	}
	return eps, latest, nil
}

// deleteDeliveries deletes up to deleteBatch deliveries that match the
// condition where (on deliveries, with args), with their attempts, and
// returns how many.
func deleteDeliveries(ctx context.Context, tx pgx.Tx, where string, args ...any) (int, error) {
	// The condition is checked again on the rows themselves, as they are
	// when the DELETE has waited for their locks.
	rows, err := tx.Query(ctx, "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE "+where+
		" LIMIT "+strconv.Itoa(deleteBatch)+") AND "+where+" RETURNING id", args...)
	if err != nil {
		return 0, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	// A statement of its own, so that its snapshot sees the attempts of an
	// outcome that committed while the DELETE above waited for its row.
	if _, err := tx.Exec(ctx, "DELETE FROM attempts WHERE delivery_id = ANY($1)", ids); err != nil {
		return 0, err
	}
	return len(ids), nil
}

// whereClause joins conditions with AND.
func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// subscriptions caches the enabled endpoints of tenants, for the fan-out of
// ingest and replay, as of one endpoints_version. A transaction that reads a
// newer version (FOR SHARE, so that it cannot change before the transaction
// ends) drops the cache; tenants are loaded as ingest needs them.
//
// Its *hookline.Endpoint values are immutable snapshots, shared by the
// tasks of every node-local ingest.
type subscriptions struct {
	box     *secretbox.Box // opens the secrets it loads; set at Open
	mu      sync.Mutex
	version int64
	tenants map[string][]subscriber
}

// subscriber is an enabled endpoint with its partition.
type subscriber struct {
	ep        *hookline.Endpoint
	partition int
	filter    *filter.Filter // nil: none
}

// matches reports whether an event fans out to the endpoint; docs holds
// the events' documents, made only for endpoints with a filter.
func (sub *subscriber) matches(ev *hookline.Event, docs *filter.Docs) bool {
	if !sub.ep.Matches(ev.Type) {
		return false
	}
	return sub.filter == nil || sub.filter.Match(docs.Of(ev))
}

// filterArg returns an endpoint's filter as stored: NULL for none.
func filterArg(f json.RawMessage) *string {
	if len(f) == 0 {
		return nil
	}
	s := string(f)
	return &s
}

// maxCachedTenants bounds the cache; past it, it starts again empty.
const maxCachedTenants = 100_000

// querier is what a transaction and a connection in a transaction have in
// common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// lockVersion reads endpoints_version FOR SHARE: until tx ends, no endpoint
// change can commit, and tx waits for one under way.
func lockVersion(ctx context.Context, tx pgx.Tx) (int64, error) {
	var v int64
	if err := tx.QueryRow(ctx, "SELECT version FROM endpoints_version FOR SHARE").Scan(&v); err != nil {
		return 0, fmt.Errorf("read endpoints version: %w", err)
	}
	return v, nil
}

// lookup returns the subscribers of each of tenants as of version v, which
// tx holds FOR SHARE, loading the tenants the cache lacks through tx.
func (c *subscriptions) lookup(ctx context.Context, tx querier, v int64, tenants []string) (map[string][]subscriber, error) {
	out := make(map[string][]subscriber, len(tenants))
	var missing []string
	c.mu.Lock()
	if v > c.version || c.tenants == nil || len(c.tenants) > maxCachedTenants {
		c.version, c.tenants = v, make(map[string][]subscriber)
	}
	// A transaction that began before the cache moved on to a newer version
	// reads its tenants itself (v < c.version).
	for _, t := range tenants {
		if subs, ok := c.tenants[t]; ok && v == c.version {
			out[t] = subs
		} else if _, seen := out[t]; !seen {
			out[t] = nil
			missing = append(missing, t)
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}

	rows, err := tx.Query(ctx, "SELECT "+endpointColumns+" FROM endpoints WHERE tenant = ANY($1) AND NOT disabled AND deleted_at IS NULL ORDER BY id",
		missing)
	if err != nil {
		return nil, fmt.Errorf("load endpoints: %w", err)
	}
	eps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*hookline.Endpoint, error) { return scanEndpoint(row, c.box) })
	if err != nil {
		return nil, fmt.Errorf("load endpoints: %w", err)
	}
	for _, ep := range eps {
		out[ep.Tenant] = append(out[ep.Tenant], subscriber{ep: ep, partition: ep.Partition(), filter: filter.Stored(ep.Filter)})
	}
	c.mu.Lock()
	if c.version == v {
		for _, t := range missing {
			c.tenants[t] = out[t]
		}
	}
	c.mu.Unlock()
	return out, nil
}

// ordering returns an endpoint's ordering as stored.
func ordering(o string) string {
	if o == "" {
		return hookline.OrderingNone
	}
	return o
}

// previousExpiry returns when an endpoint's previous secret expires, as
// stored: NULL when it has none.
func previousExpiry(ep *hookline.Endpoint) *time.Time {
	if ep.PreviousSecret == "" {
		return nil
	}
	t := truncate(ep.PreviousSecretExpiresAt)
	return &t
}

// batchEvents and batchWait return an endpoint's batch settings as stored:
// 0 events for none.
func batchEvents(b *hookline.Batch) int32 {
	if b == nil {
		return 0
	}
	return int32(b.MaxEvents)
}

func batchWait(b *hookline.Batch) int32 {
	if b == nil {
		return 0
	}
	return int32(b.MaxWaitMS)
}

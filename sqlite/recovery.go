package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/filter"
)

// This file holds the recovery tools: the list of events, counting and
// retrying deliveries by filter, and replaying what an endpoint missed.

// eventColumns are the columns of a hookline.Event.
const eventColumns = `id, tenant, type, data, created_at, deliveries, priority, ordering_key`

func scanEvent(row scanner) (*hookline.Event, error) {
	var ev hookline.Event
	var data []byte
	var created int64
	if err := row.Scan(&ev.ID, &ev.Tenant, &ev.Type, &data, &created, &ev.Deliveries, &ev.Priority, &ev.OrderingKey); err != nil {
		return nil, err
	}
	if len(data) > 0 {
		ev.Data = data
	}
	ev.CreatedAt = fromMicros(created)
	return &ev, nil
}

// FindEvents returns a page of events, newest first. By tenant and type, an
// index of both leads; by one of them, its own index; otherwise the primary
// key. A type pattern is the merge of one walk per type it matches, as in
// FindDeliveries. A time range is an ID range (and the exact times).
func (s *Store) FindEvents(ctx context.Context, f hookline.EventFilter) ([]*hookline.Event, string, error) {
	limit := pageLimit(f.Limit)
	types := []string{f.Type}
	if prefix, ok := hookline.TypePrefix(f.Type); ok {
		var err error
		if types, err = s.typesWithPrefix(ctx, queryEventTypes, "type", prefix); err != nil {
			return nil, "", err
		} else if len(types) == 0 {
			return nil, "", nil
		}
	}
	query, args := eventsQuery(f, types, limit+1)
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: find events: %w", err)
	}
	defer rows.Close()
	var evs []*hookline.Event
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, "", fmt.Errorf("sqlite: find events: %w", err)
		}
		evs = append(evs, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("sqlite: find events: %w", err)
	}
	evs, next := paginate(evs, limit, func(ev *hookline.Event) string { return ev.ID })
	return evs, next, nil
}

// eventsQuery returns the query of FindEvents for the exact types (""
// for any), and its arguments: one walk per type, merged.
func eventsQuery(f hookline.EventFilter, types []string, limit int) (string, []any) {
	var parts []string
	var args []any
	for _, t := range types {
		var where []string
		add := func(cond string, arg ...any) { where, args = append(where, cond), append(args, arg...) }
		if f.Tenant != nil {
			add("tenant = ?", *f.Tenant)
			if *f.Tenant != "" {
				add("tenant <> ''") // events_tenant and events_tenant_type hold these only
			}
		}
		if t != "" {
			add("type = ?", t)
		}
		lo, hi := hookline.IDRange(hookline.EventPrefix, f.Since, f.Until)
		if lo != "" {
			add("id >= ? AND created_at >= ?", lo, micros(f.Since))
		}
		if hi != "" {
			add("id < ? AND created_at < ?", hi, micros(f.Until))
		}
		if f.Cursor != "" {
			add("id < ?", f.Cursor)
		}
		args = append(args, limit)
		parts = append(parts, "SELECT "+eventColumns+" FROM events"+whereClause(where)+" ORDER BY id DESC LIMIT ?")
	}
	if len(parts) == 1 {
		return parts[0], args
	}
	for i, p := range parts {
		parts[i] = "SELECT * FROM (" + p + ")"
	}
	return joinUnion(parts) + " ORDER BY 1 DESC LIMIT ?", append(args, limit)
}

// joinUnion joins queries with UNION ALL.
func joinUnion(parts []string) string {
	q := parts[0]
	for _, p := range parts[1:] {
		q += " UNION ALL " + p
	}
	return q
}

// CountDeliveries returns how many deliveries f selects, walking the index
// a list would lead with (see deliveriesQuery), without the events.
func (s *Store) CountDeliveries(ctx context.Context, f hookline.DeliveryFilter) (int64, error) {
	if err := s.settle(ctx); err != nil {
		return 0, fmt.Errorf("sqlite: count deliveries: %w", err)
	}
	if f.Status != "" && !f.Status.Valid() {
		return 0, hookline.Errorf(hookline.EINVALID, "status: must be pending, delivered or failed")
	}
	query, args := countQuery(f)
	var n int64
	if err := s.rdb.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count deliveries: %w", err)
	}
	return n, nil
}

// countQuery returns the query of CountDeliveries and its arguments.
func countQuery(f hookline.DeliveryFilter) (string, []any) {
	f.Cursor = ""
	where, args := deliveryWhere(f, true)
	return "SELECT count(*) FROM deliveries d" + whereClause(where), args
}

// RetryDeliveries makes up to limit of the failed deliveries f selects
// pending and due now, as RetryDelivery does, in one transaction, on the
// partial indexes of dead letters.
func (s *Store) RetryDeliveries(ctx context.Context, f hookline.DeliveryFilter, limit int, now time.Time) (hookline.RetryResult, error) {
	if f.Status != hookline.StatusFailed {
		return hookline.RetryResult{}, hookline.Errorf(hookline.EINVALID, "status: must be failed")
	}
	if limit <= 0 {
		limit = hookline.DefaultRetryBatch
	}
	f.Cursor = ""
	where, args := deliveryWhere(f, true)
	nowUS := micros(now)
	args = append([]any{nowUS, nowUS}, append(args, limit)...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flushHeld(ctx); err != nil {
		return hookline.RetryResult{}, fmt.Errorf("sqlite: retry deliveries: %w", err)
	}
	var res hookline.RetryResult
	var d countsDelta
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, d = hookline.RetryResult{}, countsDelta{}
		rows, err := tx.QueryContext(ctx, `UPDATE deliveries SET status = 0, claimed = 0, next_attempt_at = ?,
			schedule_offset = attempts, updated_at = ?, delivered_at = NULL, batch_id = NULL
			WHERE id IN (SELECT d.id FROM deliveries d`+whereClause(where)+` LIMIT ?)
			RETURNING endpoint_id`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		seen := make(map[string]bool)
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			res.Requeued++
			d.add(id, statusFailed, -1)
			d.add(id, statusPending, 1)
			if !seen[id] {
				seen[id] = true
				res.Endpoints = append(res.Endpoints, id)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return hookline.RetryResult{}, fmt.Errorf("sqlite: retry deliveries: %w", err)
	}
	s.counts.apply(&d)
	return res, nil
}

// maxReplayBytes bounds the event data one page of ReplayMissing holds: a
// page ends early, at the event that passes it.
const maxReplayBytes = 16 << 20

// ReplayMissing examines, in one transaction, up to r.Limit events of the
// endpoint's tenant in the window after r.After, in ID order (on
// events_tenant), and writes an unclaimed pending delivery of each that the
// endpoint matches (its event types and payload filter, as at fan-out) and
// that has none to it (one seek of deliveries_event per event). The store's
// single writer makes two calls at once take turns.
func (s *Store) ReplayMissing(ctx context.Context, r hookline.ReplayMissingRequest, now time.Time) (hookline.ReplayMissingPage, error) {
	limit := r.Limit
	if limit <= 0 {
		limit = hookline.DefaultReplayPage
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flushHeld(ctx); err != nil {
		return hookline.ReplayMissingPage{}, fmt.Errorf("sqlite: replay missing: %w", err)
	}
	ce := s.endpoints.get(r.EndpointID)
	if ce == nil {
		return hookline.ReplayMissingPage{}, endpointNotFound(r.EndpointID)
	} else if ce.ep.Disabled {
		return hookline.ReplayMissingPage{}, endpointDisabled(r.EndpointID)
	}
	ep := ce.ep
	in := ingest{s: s, now: truncate(now)}
	var page hookline.ReplayMissingPage
	err := s.write(ctx, func(tx *sql.Tx) error {
		page, in.deliveryArgs, in.lastID = hookline.ReplayMissingPage{}, nil, ""
		evs, next, err := replayPage(ctx, tx, ep.Tenant, r, limit)
		if err != nil {
			return err
		}
		page.Next = next
		// The endpoint's types and payload filter decide, as at fan-out.
		var docs filter.Docs
		var candidates []*replayEvent
		for _, ev := range evs {
			if ce.matches(&ev.Event, &docs) {
				candidates = append(candidates, ev)
			}
		}
		if len(candidates) == 0 {
			return nil
		}
		ids := make([]string, len(candidates))
		for i, ev := range candidates {
			ids[i] = ev.ID
		}
		have, err := deliveredTo(ctx, tx, ep.ID, ids)
		if err != nil {
			return err
		}
		nowUS := micros(in.now)
		for _, ev := range candidates {
			if have[ev.ID] {
				continue
			}
			var okey any
			if ep.FIFO() {
				okey = ev.OrderingKey
			}
			in.deliveryArgs = append(in.deliveryArgs, in.deliveryID(), ev.ID, ep.ID, int64(ce.partition), int64(0),
				nowUS, nowUS, nowUS, int64(ev.Priority), ev.seq, okey, ev.Type)
			page.Created++
		}
		return s.stmts.insertDeliveries.exec(ctx, tx, in.deliveryArgs)
	})
	if err != nil {
		return hookline.ReplayMissingPage{}, fmt.Errorf("sqlite: replay missing: %w", err)
	}
	var d countsDelta
	d.add(ep.ID, statusPending, int64(page.Created))
	s.counts.apply(&d)
	return page, nil
}

// replayEvent is an event as a page of ReplayMissing reads it.
type replayEvent struct {
	hookline.Event
	seq int64
}

// replayPage reads the events of one page of ReplayMissing, and the After
// of the next page ("" when the window is done).
func replayPage(ctx context.Context, tx *sql.Tx, tenant string, r hookline.ReplayMissingRequest, limit int) ([]*replayEvent, string, error) {
	where := []string{"tenant = ?"}
	args := []any{tenant}
	index := " INDEXED BY events_tenant"
	if tenant == "" {
		index = "" // events_tenant holds named tenants only; the ID range bounds the primary key's walk
	} else {
		where = append(where, "tenant <> ''")
	}
	lo, hi := hookline.IDRange(hookline.EventPrefix, r.Since, r.Until)
	if lo != "" {
		where, args = append(where, "id >= ? AND created_at >= ?"), append(args, lo, micros(r.Since))
	}
	if hi != "" {
		where, args = append(where, "id < ? AND created_at < ?"), append(args, hi, micros(r.Until))
	}
	if r.After != "" {
		where, args = append(where, "id > ?"), append(args, r.After)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, tenant, type, data, created_at, priority, ordering_key, seq
		FROM events`+index+whereClause(where)+` ORDER BY id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, "", fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	var evs []*replayEvent
	size := 0
	for rows.Next() {
		ev := &replayEvent{}
		var data []byte
		var created int64
		if err := rows.Scan(&ev.ID, &ev.Tenant, &ev.Type, &data, &created, &ev.Priority, &ev.OrderingKey, &ev.seq); err != nil {
			return nil, "", fmt.Errorf("read events: %w", err)
		}
		ev.Data, ev.CreatedAt = data, fromMicros(created)
		evs = append(evs, ev)
		if size += len(data); size > maxReplayBytes {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("read events: %w", err)
	}
	next := ""
	if len(evs) == limit || size > maxReplayBytes {
		next = evs[len(evs)-1].ID
	}
	return evs, next, nil
}

// queryDeliveredTo selects which of the events (a JSON list) have a delivery
// to an endpoint: one seek of deliveries_event each.
const queryDeliveredTo = `SELECT DISTINCT event_id FROM deliveries INDEXED BY deliveries_event
	WHERE event_id IN (SELECT value FROM json_each(?)) AND endpoint_id = ?`

// deliveredTo returns which of the events have a delivery to the endpoint.
func deliveredTo(ctx context.Context, tx *sql.Tx, endpointID string, eventIDs []string) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, queryDeliveredTo, jsonList(eventIDs), endpointID)
	if err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	defer rows.Close()
	have := make(map[string]bool)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read deliveries: %w", err)
		}
		have[id] = true
	}
	return have, rows.Err()
}

// endpointDisabled is the error of a replay to a disabled endpoint.
func endpointDisabled(id string) error {
	return hookline.Errorf(hookline.ECONFLICT, "endpoint %s is disabled: enable it first (PATCH {\"disabled\": false}), or its new deliveries would fail at once", id)
}

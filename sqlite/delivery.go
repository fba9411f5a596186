package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hookline/hookline"
)

// deliveryColumnsSelect are the columns of a hookline.Delivery, from
// deliveries d joined with events e.
const deliveryColumnsSelect = `d.id, d.event_id, d.endpoint_id, e.tenant, e.type, d.priority, d.status,
	d.attempts, d.schedule_offset, d.next_attempt_at, d.last_status_code, d.last_error,
	d.created_at, d.updated_at, d.delivered_at`

// deliveryFrom joins each delivery with its event; CROSS JOIN keeps
// deliveries the outer loop, so the list indexes give the order.
const deliveryFrom = ` FROM deliveries d CROSS JOIN events e ON e.id = d.event_id`

func scanDelivery(row scanner) (*hookline.Delivery, error) {
	var d hookline.Delivery
	var status, created, updated int64
	var next, delivered sql.NullInt64
	if err := row.Scan(&d.ID, &d.EventID, &d.EndpointID, &d.Tenant, &d.EventType, &d.Priority, &status,
		&d.Attempts, &d.ScheduleOffset, &next, &d.LastStatusCode, &d.LastError,
		&created, &updated, &delivered); err != nil {
		return nil, err
	}
	d.Status = statusOf(status)
	d.NextAttemptAt, d.DeliveredAt = nullTime(next), nullTime(delivered)
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &d, nil
}

// queryer is what *sql.DB and *sql.Tx have in common.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func findDelivery(ctx context.Context, q queryer, id string) (*hookline.Delivery, error) {
	d, err := scanDelivery(q.QueryRowContext(ctx, "SELECT "+deliveryColumnsSelect+deliveryFrom+" WHERE d.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, deliveryNotFound(id)
	}
	return d, err
}

func deliveryNotFound(id string) error {
	return hookline.Errorf(hookline.ENOTFOUND, "delivery %s not found", id)
}

// FindDelivery returns one delivery, or ENOTFOUND.
func (s *Store) FindDelivery(ctx context.Context, id string) (*hookline.Delivery, error) {
	if err := s.settle(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: find delivery: %w", err)
	}
	d, err := findDelivery(ctx, s.rdb, id)
	if err != nil && hookline.ErrorCode(err) != hookline.ENOTFOUND {
		return nil, fmt.Errorf("sqlite: find delivery: %w", err)
	}
	return d, err
}

// FindDeliveries returns a page of deliveries, newest first, and the cursor
// of the next page ("" on the last page).
func (s *Store) FindDeliveries(ctx context.Context, f hookline.DeliveryFilter) ([]*hookline.Delivery, string, error) {
	if err := s.settle(ctx); err != nil {
		return nil, "", fmt.Errorf("sqlite: find deliveries: %w", err)
	}
	if f.Status != "" && !f.Status.Valid() {
		return nil, "", hookline.Errorf(hookline.EINVALID, "status: must be pending, delivered or failed")
	}
	limit := pageLimit(f.Limit)
	query, args, err := s.findDeliveriesQuery(ctx, f, limit+1)
	if err != nil || query == "" {
		return nil, "", err
	}
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: find deliveries: %w", err)
	}
	defer rows.Close()
	var ds []*hookline.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, "", fmt.Errorf("sqlite: find deliveries: %w", err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("sqlite: find deliveries: %w", err)
	}
	ds, next := paginate(ds, limit, func(d *hookline.Delivery) string { return d.ID })
	return ds, next, nil
}

// findDeliveriesQuery returns the query of FindDeliveries, "" when nothing
// can match. A type pattern, unless an event leads, is the merge of one walk
// per type it matches (of deliveries_type, or of deliveries_endpoint_type for
// the types the endpoint has), each stopping at limit: one ordered walk of a
// range of types would have to sort every row of the range.
func (s *Store) findDeliveriesQuery(ctx context.Context, f hookline.DeliveryFilter, limit int) (string, []any, error) {
	prefix, pattern := hookline.TypePrefix(f.EventType)
	if !pattern || f.EventID != "" {
		q, args := deliveriesQuery(f, limit)
		return q, args, nil
	}
	var types []string
	var err error
	if f.EndpointID != "" {
		types, err = s.typesWithPrefix(ctx, queryEndpointDeliveryTypes, "event_type", prefix, f.EndpointID)
	} else {
		types, err = s.typesWithPrefix(ctx, queryDeliveryTypes, "event_type", prefix)
	}
	if err != nil || len(types) == 0 {
		return "", nil, err
	}
	var parts []string
	var args []any
	for _, t := range types {
		f.EventType = t
		q, a := deliveriesQuery(f, limit)
		parts, args = append(parts, "SELECT * FROM ("+q+")"), append(args, a...)
	}
	if len(parts) == 1 {
		q, a := deliveriesQuery(f, limit)
		return q, a, nil
	}
	return strings.Join(parts, " UNION ALL ") + " ORDER BY 1 DESC LIMIT ?", append(args, limit), nil
}

// deliveriesQuery returns the query of FindDeliveries and its arguments for
// a filter whose type, if any, is exact or a pattern on a row found by its
// event. One index leads, the first of: the event's, the endpoint's dead
// letters of a type, the endpoint's dead letters, the endpoint's of a type,
// the endpoint's, the type's dead letters, the type's, the dead letters, the
// primary key; the unary plus keeps SQLite off the others. Pending or delivered deliveries alone walk the table newest
// first, which stops at the first page: pending deliveries are mostly recent
// and delivered ones are most rows. Every index ends in id, so a time range
// (an ID range, then the exact times) and the cursor narrow the walk.
func deliveriesQuery(f hookline.DeliveryFilter, limit int) (string, []any) {
	where, args := deliveryWhere(f, false)
	args = append(args, limit)
	return "SELECT " + deliveryColumnsSelect + deliveryFrom + whereClause(where) + " ORDER BY d.id DESC LIMIT ?", args
}

// deliveryWhere returns the conditions of f (see deliveriesQuery), on
// deliveries d. With ranged, a type pattern leads as a range of
// deliveries_type when the event and endpoint do not (for a count, which
// needs no order).
func deliveryWhere(f hookline.DeliveryFilter, ranged bool) ([]string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg ...any) { where, args = append(where, cond), append(args, arg...) }
	failed := f.Status == hookline.StatusFailed
	prefix, pattern := hookline.TypePrefix(f.EventType)
	byEvent := f.EventID != ""
	byEndpoint := !byEvent && f.EndpointID != ""
	// An endpoint and a type lead together, on deliveries_endpoint_type or
	// deliveries_failed_endpoint_type (a pattern only as a range, for a
	// count or a retry, which need no order).
	byEndpointType := byEndpoint && f.EventType != "" && (!pattern || ranged)
	byType := !byEvent && !byEndpoint && f.EventType != "" && !pattern
	lead := func(on bool) string {
		if on {
			return ""
		}
		return "+"
	}
	if f.EventID != "" {
		add(lead(byEvent)+"d.event_id = ?", f.EventID)
	}
	if f.EndpointID != "" {
		add(lead(byEndpoint)+"d.endpoint_id = ?", f.EndpointID)
	}
	switch {
	case pattern:
		p := lead(ranged && !byEvent && (!byEndpoint || byEndpointType))
		add(p+"d.event_type >= ? AND "+p+"d.event_type < ?", prefix, hookline.PrefixEnd(prefix))
	case f.EventType != "":
		add(lead(byType || byEndpointType)+"d.event_type = ?", f.EventType)
	}
	switch {
	case f.Status == "":
	case failed && !byEvent:
		add("d.status = 2") // a literal, for the partial indexes of dead letters
	default:
		add("+d.status = ?", statusValue(f.Status))
	}
	lo, hi := hookline.IDRange(hookline.DeliveryPrefix, f.Since, f.Until)
	if lo != "" {
		add("d.id >= ? AND d.created_at >= ?", lo, micros(f.Since))
	}
	if hi != "" {
		add("d.id < ? AND d.created_at < ?", hi, micros(f.Until))
	}
	if f.Cursor != "" {
		add("d.id < ?", f.Cursor)
	}
	return where, args
}

// queryDeliveryTypes and queryEventTypes are loose index scans of the types
// that start with a prefix (?1) below its end (?2), up to ?3 of them: one
// seek per type, however many rows each has. queryEndpointDeliveryTypes is
// that of the types of one endpoint's deliveries (?4).
const (
	queryEndpointDeliveryTypes = `WITH RECURSIVE t(x) AS (
		SELECT (SELECT min(event_type) FROM deliveries INDEXED BY deliveries_endpoint_type
			WHERE endpoint_id = ?4 AND event_type >= ?1 AND event_type < ?2)
		UNION ALL
		SELECT (SELECT min(event_type) FROM deliveries INDEXED BY deliveries_endpoint_type
			WHERE endpoint_id = ?4 AND event_type > t.x AND event_type < ?2)
		FROM t WHERE t.x IS NOT NULL)
	SELECT x FROM t WHERE x IS NOT NULL LIMIT ?3`
	queryDeliveryTypes = `WITH RECURSIVE t(x) AS (
		SELECT (SELECT min(event_type) FROM deliveries INDEXED BY deliveries_type WHERE event_type >= ?1 AND event_type < ?2)
		UNION ALL
		SELECT (SELECT min(event_type) FROM deliveries INDEXED BY deliveries_type WHERE event_type > t.x AND event_type < ?2)
		FROM t WHERE t.x IS NOT NULL)
	SELECT x FROM t WHERE x IS NOT NULL LIMIT ?3`
	queryEventTypes = `WITH RECURSIVE t(x) AS (
		SELECT (SELECT min(type) FROM events INDEXED BY events_type WHERE type >= ?1 AND type < ?2)
		UNION ALL
		SELECT (SELECT min(type) FROM events INDEXED BY events_type WHERE type > t.x AND type < ?2)
		FROM t WHERE t.x IS NOT NULL)
	SELECT x FROM t WHERE x IS NOT NULL LIMIT ?3`
)

// typesWithPrefix returns the distinct types that start with prefix, by
// query (queryDeliveryTypes, queryEndpointDeliveryTypes with the endpoint's
// ID in more, or queryEventTypes); more than hookline.MaxPatternTypes is
// EINVALID, naming field.
func (s *Store) typesWithPrefix(ctx context.Context, query, field, prefix string, more ...any) ([]string, error) {
	args := append([]any{prefix, hookline.PrefixEnd(prefix), hookline.MaxPatternTypes + 1}, more...)
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: types of %s*: %w", prefix, err)
	}
	defer rows.Close()
	var types []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("sqlite: types of %s*: %w", prefix, err)
		}
		types = append(types, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: types of %s*: %w", prefix, err)
	}
	if len(types) > hookline.MaxPatternTypes {
		return nil, hookline.TooManyTypes(field, prefix)
	}
	return types, nil
}

// FindAttempts returns the attempts of a delivery, first attempt first, or
// ENOTFOUND when the delivery does not exist.
func (s *Store) FindAttempts(ctx context.Context, deliveryID string) ([]*hookline.Attempt, error) {
	if err := s.settle(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: find attempts: %w", err)
	}
	// One statement, so one snapshot: the delivery and its attempts.
	rows, err := s.rdb.QueryContext(ctx, `SELECT a.attempt, a.started_at, a.duration_us, a.status_code,
		a.error, a.response_body FROM deliveries d LEFT JOIN attempts a ON a.delivery_id = d.id
		WHERE d.id = ? ORDER BY a.attempt`, deliveryID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find attempts: %w", err)
	}
	defer rows.Close()
	found := false
	as := []*hookline.Attempt{}
	for rows.Next() {
		found = true
		var n, started, dur, code sql.NullInt64
		var errText, body sql.NullString
		if err := rows.Scan(&n, &started, &dur, &code, &errText, &body); err != nil {
			return nil, fmt.Errorf("sqlite: find attempts: %w", err)
		}
		if !n.Valid {
			continue // a delivery without attempts
		}
		as = append(as, &hookline.Attempt{
			DeliveryID:   deliveryID,
			Attempt:      int(n.Int64),
			StartedAt:    fromMicros(started.Int64),
			Duration:     time.Duration(dur.Int64) * time.Microsecond,
			StatusCode:   int(code.Int64),
			Error:        errText.String,
			ResponseBody: body.String,
		})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: find attempts: %w", err)
	}
	if !found {
		return nil, deliveryNotFound(deliveryID)
	}
	return as, nil
}

// ClaimDue claims, endpoint by endpoint, up to each request's limit of due,
// pending, unclaimed deliveries, in one transaction, and for each endpoint
// the earliest due time left; then it reads the events for the payloads,
// each built once and shared by the tasks of its event.
//
// An endpoint's deliveries come in the order work is taken (due time less
// priority × PriorityStep), with the rest of any batch they were last sent
// in (a batch is retried whole, so a claim may pass the limit by a batch).
// A fifo endpoint gives only the first pending delivery of each ordering
// key, and only when nothing of that key is claimed already: its keys go
// one delivery at a time (a batched one, a run of up to its batch size in
// accepted order).
func (s *Store) ClaimDue(ctx context.Context, reqs []hookline.ClaimRequest, now time.Time) ([]hookline.ClaimResult, error) {
	out := make([]hookline.ClaimResult, len(reqs))
	if len(reqs) == 0 {
		return out, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var c claimer
	err := s.write(ctx, func(tx *sql.Tx) error {
		c = claimer{s: s, tx: tx, ctx: ctx, now: micros(now), seen: make(map[string]bool)}
		for i, r := range reqs {
			out[i] = hookline.ClaimResult{}
			ce := s.endpoints.get(r.EndpointID)
			if ce == nil {
				continue
			}
			var err error
			if ce.ep.FIFO() {
				out[i], err = c.fifo(ce, r.Limit)
			} else {
				out[i], err = c.due(ce, r.Limit)
			}
			if err != nil {
				return err
			}
		}
		return c.fill()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim deliveries: %w", err)
	}
	s.claims.add(c.claimed, c.now)
	return out, nil
}

// claimer is one ClaimDue transaction.
type claimer struct {
	s        *Store
	tx       *sql.Tx
	ctx      context.Context
	now      int64
	seen     map[string]bool // event IDs
	eventIDs []string
	claimed  []*hookline.Task
}

// scan reads claimed rows into tasks of ce.
func (c *claimer) scan(ce *cachedEndpoint, rows *sql.Rows) ([]*hookline.Task, error) {
	defer rows.Close()
	var tasks []*hookline.Task
	for rows.Next() {
		t := &hookline.Task{Endpoint: ce.ep}
		var due int64
		var okey, batch sql.NullString
		if err := rows.Scan(&t.DeliveryID, &t.EventID, &t.Partition, &t.Attempts, &t.ScheduleOffset, &due,
			&t.Priority, &t.Seq, &okey, &batch); err != nil {
			return nil, err
		}
		t.Due, t.OrderingKey, t.BatchID = fromMicros(due), okey.String, batch.String
		tasks = append(tasks, t)
		if !c.seen[t.EventID] {
			c.seen[t.EventID] = true
			c.eventIDs = append(c.eventIDs, t.EventID)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	c.claimed = append(c.claimed, tasks...)
	return tasks, nil
}

// due claims up to limit of an endpoint's due deliveries, in the order work
// is taken, with the rest of their batches.
func (c *claimer) due(ce *cachedEndpoint, limit int) (hookline.ClaimResult, error) {
	var res hookline.ClaimResult
	if limit > 0 {
		rows, err := c.tx.StmtContext(c.ctx, c.s.stmts.claimDue).QueryContext(c.ctx, ce.ep.ID, c.now, limit)
		if err != nil {
			return res, err
		}
		if res.Tasks, err = c.scan(ce, rows); err != nil {
			return res, err
		}
		var batches []string
		for _, t := range res.Tasks {
			if t.BatchID != "" && !slices.Contains(batches, t.BatchID) {
				batches = append(batches, t.BatchID)
			}
		}
		if len(batches) > 0 {
			rows, err := c.tx.StmtContext(c.ctx, c.s.stmts.claimBatches).QueryContext(c.ctx, jsonList(batches))
			if err != nil {
				return res, err
			}
			more, err := c.scan(ce, rows)
			if err != nil {
				return res, err
			}
			res.Tasks = append(res.Tasks, more...)
		}
		slices.SortFunc(res.Tasks, func(a, b *hookline.Task) int {
			return cmp.Or(a.Due.Add(-time.Duration(a.Priority)*hookline.PriorityStep).Compare(
				b.Due.Add(-time.Duration(b.Priority)*hookline.PriorityStep)), cmp.Compare(a.DeliveryID, b.DeliveryID))
		})
	}
	var next sql.NullInt64
	if err := c.tx.StmtContext(c.ctx, c.s.stmts.nextDue).QueryRowContext(c.ctx, ce.ep.ID).Scan(&next); err != nil {
		return res, err
	}
	if next.Valid {
		res.Next = fromMicros(next.Int64)
	}
	return res, nil
}

// fifo claims the heads of a fifo endpoint's keys: for each key with
// pending deliveries, in key order, its first delivery in accepted order
// (with a batched endpoint, the run of up to its batch size that starts
// there, or the whole batch the first one was last sent in), if none of
// the key is claimed and the first is due. Next is the earliest due time of
// a head not due yet; zero when every head is claimed (their completion
// brings the next ones).
func (c *claimer) fifo(ce *cachedEndpoint, limit int) (hookline.ClaimResult, error) {
	var res hookline.ClaimResult
	run := 1
	if b := ce.ep.Batch; b != nil {
		run = b.MaxEvents
	}
	first := c.tx.StmtContext(c.ctx, c.s.stmts.firstKey)
	nextKey := c.tx.StmtContext(c.ctx, c.s.stmts.nextKey)
	line := c.tx.StmtContext(c.ctx, c.s.stmts.keyLine)
	var ids []string
	var key string
	err := first.QueryRowContext(c.ctx, ce.ep.ID).Scan(&key)
	for ; err == nil; err = nextKey.QueryRowContext(c.ctx, ce.ep.ID, key).Scan(&key) {
		if len(ids) >= limit {
			res.Next = fromMicros(c.now) // more heads may be due: come back
			break
		}
		head, due, e := c.line(line, ce.ep.ID, key, run)
		if e != nil {
			return res, e
		}
		if len(head) > 0 {
			ids = append(ids, head...)
		} else if due > 0 && (res.Next.IsZero() || due < micros(res.Next)) {
			res.Next = fromMicros(due)
		}
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return res, err
	}
	if len(ids) == 0 {
		return res, nil
	}
	rows, err := c.tx.StmtContext(c.ctx, c.s.stmts.claimIDs).QueryContext(c.ctx, jsonList(ids))
	if err != nil {
		return res, err
	}
	if res.Tasks, err = c.scan(ce, rows); err != nil {
		return res, err
	}
	slices.SortFunc(res.Tasks, func(a, b *hookline.Task) int {
		return cmp.Or(cmp.Compare(a.OrderingKey, b.OrderingKey), cmp.Compare(a.Seq, b.Seq))
	})
	return res, nil
}

// line returns the IDs of a key's claimable head (a run of up to run
// deliveries), or none and the head's due time when it is not due yet
// (0 when the key has something claimed).
func (c *claimer) line(stmt *sql.Stmt, endpointID, key string, run int) (ids []string, due int64, err error) {
	rows, err := stmt.QueryContext(c.ctx, endpointID, key, run)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	batch := ""
	for i := 0; rows.Next(); i++ {
		var id string
		var claimed int64
		var next sql.NullInt64
		var b sql.NullString
		if err := rows.Scan(&id, &claimed, &next, &b); err != nil {
			return nil, 0, err
		}
		if claimed == 1 {
			if i == 0 {
				return nil, 0, rows.Err()
			}
			break // the run ends where a claimed one begins
		}
		if i == 0 {
			if next.Int64 > c.now {
				return nil, next.Int64, rows.Err()
			}
			batch = b.String
		} else if b.String != batch || next.Int64 > c.now {
			break // a run is one batch, or fresh deliveries, all due
		}
		ids = append(ids, id)
	}
	return ids, 0, rows.Err()
}

// fill sets the payload of every claimed task.
func (c *claimer) fill() error {
	if len(c.claimed) == 0 {
		return nil
	}
	payloads, err := c.s.payloads(c.ctx, c.tx, c.eventIDs)
	if err != nil {
		return err
	}
	for _, t := range c.claimed {
		p, ok := payloads[t.EventID]
		if !ok {
			return fmt.Errorf("delivery %s: event %s not found", t.DeliveryID, t.EventID)
		}
		t.Payload, t.EventCreatedAt = p.payload, p.created
	}
	return nil
}

// DueEndpoints returns the endpoints of the given partitions (nil means
// all) with pending, unclaimed deliveries and the earliest due time of
// each. It skips from endpoint to endpoint through deliveries_due_lane (a
// loose index scan: one seek per endpoint, and one a priority for its due
// time), so its cost does not grow with the backlog.
func (s *Store) DueEndpoints(ctx context.Context, partitions []int) ([]hookline.EndpointDue, error) {
	if partitions != nil && len(partitions) == 0 {
		return nil, nil
	}
	var mask []bool
	if partitions != nil {
		mask = make([]bool, hookline.Partitions)
		for _, p := range partitions {
			if p >= 0 && p < hookline.Partitions {
				mask[p] = true
			}
		}
	}
	rows, err := s.rdb.QueryContext(ctx, queryDueEndpoints)
	if err != nil {
		return nil, fmt.Errorf("sqlite: due endpoints: %w", err)
	}
	defer rows.Close()
	var out []hookline.EndpointDue
	for rows.Next() {
		var id string
		var due int64
		if err := rows.Scan(&id, &due); err != nil {
			return nil, fmt.Errorf("sqlite: due endpoints: %w", err)
		}
		p := hookline.PartitionOf(id)
		if mask != nil && !mask[p] {
			continue
		}
		out = append(out, hookline.EndpointDue{EndpointID: id, Partition: p, Due: fromMicros(due)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: due endpoints: %w", err)
	}
	return out, nil
}

type payload struct {
	payload []byte
	created time.Time
}

// payloads reads events and builds their payloads.
func (s *Store) payloads(ctx context.Context, tx *sql.Tx, ids []string) (map[string]payload, error) {
	rows, err := tx.StmtContext(ctx, s.stmts.eventsByID).QueryContext(ctx, jsonList(ids))
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	out := make(map[string]payload, len(ids))
	for rows.Next() {
		var ev hookline.Event
		var data []byte
		var created int64
		if err := rows.Scan(&ev.ID, &ev.Type, &data, &created); err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		ev.Data, ev.CreatedAt = data, fromMicros(created)
		out[ev.ID] = payload{ev.Payload(), ev.CreatedAt}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

// Unclaim marks deliveries as no longer held in memory. Unknown IDs, and
// claims this store did not make (an earlier run's), are ignored.
func (s *Store) Unclaim(ctx context.Context, deliveryIDs []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	mine := make([]string, 0, len(deliveryIDs))
	for _, id := range deliveryIDs {
		if s.claims.mine(id) {
			mine = append(mine, id)
		}
	}
	if len(mine) == 0 {
		return nil
	}
	ids := jsonList(mine)
	held := s.held.of(mine)
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.writeHeld(ctx, tx, held); err != nil {
			return err
		}
		_, err := tx.StmtContext(ctx, s.stmts.unclaim).ExecContext(ctx, ids)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: unclaim deliveries: %w", err)
	}
	s.held.wrote(held)
	for _, id := range mine {
		delete(s.claims.m, id)
	}
	return nil
}

// ResetClaims unclaims every pending delivery of the given partitions (nil
// means all, empty means none).
func (s *Store) ResetClaims(ctx context.Context, partitions []int) error {
	if partitions != nil && len(partitions) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flushHeld(ctx); err != nil {
		return fmt.Errorf("sqlite: reset claims: %w", err)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if partitions == nil {
			_, err = tx.ExecContext(ctx, "UPDATE deliveries SET claimed = 0 WHERE claimed = 1")
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE deliveries SET claimed = 0
				WHERE claimed = 1 AND partition IN (SELECT value FROM json_each(?))`, jsonList(partitions))
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: reset claims: %w", err)
	}
	s.claims.reset(partitions)
	return nil
}

// RecordOutcomes writes a batch of attempt outcomes in one transaction: for
// each, the delivery's new state with its claim released, and the attempt
// row. An outcome is written only while the delivery is pending, unclaimed
// or claimed by this store (not by an earlier run), and when its attempt
// number is past the delivery's count; the others are dropped, and marked
// with why (hookline.Outcome.Dropped). One whose attempt is recorded
// already, with the same start, was written by an earlier call (a batch
// written again) and is not marked. The row of a held delivery (held.go) is
// written here, with its outcome's values. While an Ingest waits for the
// store's writer, RecordOutcomes lets it go first (gate.go).
func (s *Store) RecordOutcomes(ctx context.Context, outcomes []hookline.Outcome, now time.Time) error {
	if len(outcomes) == 0 {
		return nil
	}
	ids := make([]string, 0, len(outcomes))
	for i := range outcomes {
		o := &outcomes[i]
		if !o.Status.Valid() {
			return hookline.Errorf(hookline.EINVALID, "outcome of delivery %s: status %q", o.Attempt.DeliveryID, o.Status)
		}
		ids = append(ids, o.Attempt.DeliveryID)
	}
	nowUS := micros(now)
	for start := 0; start < len(outcomes); {
		n, err := s.recordOutcomes(ctx, outcomes[start:], ids[start:], nowUS)
		if err != nil {
			for i := range outcomes {
				outcomes[i].Dropped = ""
			}
			return fmt.Errorf("sqlite: record outcomes: %w", err)
		}
		start += n
	}
	return nil
}

// outcomeYield is the fewest outcomes a RecordOutcomes transaction writes
// before it commits early to let a waiting Ingest have the writer, and the
// outcomes whose rows it writes at a time. It commits early only once it
// has had the writer for outcomeTurn: under a steady stream of ingests,
// one always waits, and outcomes committed 128 at a time, with an fsync
// each, fell behind the deliveries (deliveries/s fell by half in a
// closed-loop run). A waiting ingest waits for at most about outcomeTurn
// and one chunk.
const (
	outcomeYield = 128
	outcomeTurn  = 5 * time.Millisecond
)

// recordOutcomes writes outcomes, whose delivery IDs are ids, in one
// transaction, and returns how many it wrote: all of them, or, when an
// Ingest is waiting for the writer, the first outcomeYield or more. Each
// transaction stands alone: should a later one fail, the caller's retry
// finds the outcomes written already recorded, and does not mark them.
func (s *Store) recordOutcomes(ctx context.Context, outcomes []hookline.Outcome, ids []string, nowUS int64) (int, error) {
	s.gate.wait(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	var d countsDelta
	var released []string
	var settle settling
	var n int        // outcomes written
	var taken *rider // the Ingest carried (ride.go)
	began := time.Now()
	s.rides.start()
	err := s.write(ctx, func(tx *sql.Tx) error {
		d, released, n = countsDelta{}, released[:0], len(outcomes)
		settle.reset(&s.held, ids)
		status, err := s.statuses(ctx, tx, settle.unwritten(ids))
		if err != nil {
			return err
		}
		for id, r := range settle.by {
			status[id] = deliveryStatus{r.endpointID, statusPending, true, 0}
		}
		update := tx.StmtContext(ctx, s.stmts.recordOutcome)
		attempts := make([]any, 0, 7*min(len(outcomes), outcomeYield))
		// The rows are written outcomeYield outcomes at a time, and a
		// waiting ingest is looked for between: it waits for one chunk's
		// statements and the commit, not for the whole batch's.
		chunk := func() error {
			if err := s.stmts.insertAttempts.exec(ctx, tx, attempts); err != nil {
				return fmt.Errorf("insert attempts: %w", err)
			}
			attempts = attempts[:0]
			return settle.writeRows(ctx, tx, s.stmts.insertSettled)
		}
		for i := range outcomes {
			if i > 0 && (i%outcomeYield == 0 || i%riderLook == 0 && s.rides.aboard()) {
				if err := chunk(); err != nil {
					return err
				}
				// A rider is carried at once: it costs no commit of its
				// own. An ingest waiting for the writer goes first once
				// the outcomes have had their turn.
				if s.rides.aboard() || s.gate.ingestWaiting() && time.Since(began) >= s.outcomeTurn {
					n = i
					break
				}
			}
			o := &outcomes[i]
			a := &o.Attempt
			cur, ok := status[a.DeliveryID]
			if o.Dropped = s.fence(cur, ok, a); o.Dropped != "" {
				if ok {
					if written, err := s.recorded(ctx, tx, a); err != nil {
						return err
					} else if written {
						o.Dropped = ""
					}
				} else {
					released = append(released, a.DeliveryID) // deleted: forget its claim
				}
				continue
			}
			v := statusValue(o.Status)
			var next any
			if v == statusPending {
				next = nowUS
				if !o.NextAttemptAt.IsZero() {
					next = micros(o.NextAttemptAt)
				}
			}
			var batch any
			if v == statusPending && o.BatchID != "" {
				batch = o.BatchID
			}
			// A held delivery's row is planned, and written with its chunk;
			// a written one (also a held one written by an earlier chunk)
			// is updated.
			planned := settle.held(a.DeliveryID) &&
				settle.add(a.DeliveryID, v, int64(a.Attempt), int64(a.StatusCode), a.Error, next, nowUS, batch)
			if !planned {
				if _, err := update.ExecContext(ctx, v, int64(a.Attempt), int64(a.StatusCode), a.Error,
					next, nowUS, a.DeliveryID, batch); err != nil {
					return fmt.Errorf("update delivery: %w", err)
				}
			}
			d.add(cur.endpointID, cur.status, -1)
			d.add(cur.endpointID, v, 1)
			status[a.DeliveryID] = deliveryStatus{cur.endpointID, v, false, int64(a.Attempt)}
			released = append(released, a.DeliveryID)
			attempts = append(attempts, a.DeliveryID, int64(a.Attempt), micros(a.StartedAt),
				a.Duration.Microseconds(), int64(a.StatusCode), a.Error, a.ResponseBody)
		}
		if err := chunk(); err != nil {
			return err
		}
		if err := s.writeSettled(ctx, tx, &settle); err != nil {
			return err
		}
		if taken = s.rides.stop(); taken != nil {
			return carry(ctx, tx, taken)
		}
		return nil
	})
	if x := s.rides.stop(); x != nil { // boarded, not taken: the transaction failed first
		s.rides.land(x, errNotCarried)
	}
	if err != nil {
		s.rides.land(taken, err)
		return 0, err
	}
	s.held.wrote(settle.rows)
	s.counts.apply(&d)
	for _, id := range released {
		delete(s.claims.m, id)
	}
	s.rides.land(taken, nil)
	return n, nil
}

// fence returns why an outcome may not be written over the delivery's
// stored state cur (ok: the delivery exists), or "" when it may. The caller
// holds s.mu.
func (s *Store) fence(cur deliveryStatus, ok bool, a *hookline.Attempt) hookline.OutcomeDrop {
	switch {
	case !ok:
		return hookline.DropGone
	case cur.status != statusPending:
		return hookline.DropSettled
	case cur.claimed && !s.claims.mine(a.DeliveryID):
		return hookline.DropNotHeld
	case int64(a.Attempt) == cur.attempts:
		return hookline.DropCollision
	case int64(a.Attempt) < cur.attempts:
		return hookline.DropStale
	}
	return ""
}

// recorded reports whether the attempt is recorded already, with the same
// start: it was written by an earlier call.
func (s *Store) recorded(ctx context.Context, tx *sql.Tx, a *hookline.Attempt) (bool, error) {
	var started int64
	err := tx.QueryRowContext(ctx, "SELECT started_at FROM attempts WHERE delivery_id = ? AND attempt = ?",
		a.DeliveryID, int64(a.Attempt)).Scan(&started)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("read attempt: %w", err)
	}
	return started == micros(a.StartedAt), nil
}

// deliveryStatus is the endpoint, stored status, claim and attempt count of
// a delivery.
type deliveryStatus struct {
	endpointID string
	status     int64
	claimed    bool
	attempts   int64
}

// statuses returns the endpoint, stored status, claim and attempt count of
// each delivery of ids that exists.
func (s *Store) statuses(ctx context.Context, tx *sql.Tx, ids []string) (map[string]deliveryStatus, error) {
	rows, err := tx.StmtContext(ctx, s.stmts.statusesByID).QueryContext(ctx, jsonList(ids))
	if err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	defer rows.Close()
	out := make(map[string]deliveryStatus, len(ids))
	for rows.Next() {
		var id string
		var st deliveryStatus
		if err := rows.Scan(&id, &st.endpointID, &st.status, &st.claimed, &st.attempts); err != nil {
			return nil, fmt.Errorf("read deliveries: %w", err)
		}
		out[id] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	return out, nil
}

// RetryDelivery makes one delivery pending and due now, whatever its
// status, and returns it, or ENOTFOUND. Its attempts are kept, its retry
// schedule restarts from them (ScheduleOffset = Attempts), and DeliveredAt is
// cleared. A pending delivery keeps its claim: it is already in memory.
func (s *Store) RetryDelivery(ctx context.Context, id string, now time.Time) (*hookline.Delivery, error) {
	nowUS := micros(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flushHeld(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: retry delivery: %w", err)
	}
	var d *hookline.Delivery
	var old int64
	var endpointID string
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, "SELECT endpoint_id, status FROM deliveries WHERE id = ?", id).Scan(&endpointID, &old)
		if errors.Is(err, sql.ErrNoRows) {
			return deliveryNotFound(id)
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 0,
			claimed = CASE WHEN status = 0 THEN claimed ELSE 0 END,
			next_attempt_at = ?, schedule_offset = attempts, updated_at = ?, delivered_at = NULL, batch_id = NULL
			WHERE id = ?`, nowUS, nowUS, id); err != nil {
			return err
		}
		d, err = findDelivery(ctx, tx, id)
		return err
	})
	if hookline.ErrorCode(err) == hookline.ENOTFOUND {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: retry delivery: %w", err)
	}
	var c countsDelta
	c.add(endpointID, old, -1)
	c.add(endpointID, statusPending, 1)
	s.counts.apply(&c)
	return d, nil
}

// recoverQuery makes up to a batch of the failed deliveries of an endpoint
// pending. The unary plus keeps SQLite on deliveries_endpoint rather than
// deliveries_failed.
func recoverQuery(since bool) string {
	q := `UPDATE deliveries SET status = 0, claimed = 0, next_attempt_at = ?,
	schedule_offset = attempts, updated_at = ?, delivered_at = NULL, batch_id = NULL
	WHERE id IN (SELECT id FROM deliveries WHERE endpoint_id = ? AND +status = 2`
	if since {
		q += " AND created_at >= ?"
	}
	return q + " LIMIT ?)"
}

// recoverBatch is how many deliveries one transaction of RecoverEndpoint
// requeues, so that recovering millions neither holds the writer nor grows
// memory for the whole of it.
const recoverBatch = 5000

// RecoverEndpoint makes every failed delivery of an endpoint created at or
// after since (zero means all) pending and due now, as RetryDelivery does,
// and returns how many; ENOTFOUND when the endpoint does not exist.
func (s *Store) RecoverEndpoint(ctx context.Context, endpointID string, since, now time.Time) (int, error) {
	nowUS := micros(now)
	q := recoverQuery(!since.IsZero())
	args := []any{nowUS, nowUS, endpointID}
	if !since.IsZero() {
		args = append(args, micros(since))
	}
	args = append(args, recoverBatch)
	total := 0
	for {
		n, err := s.recoverBatch(ctx, endpointID, q, args)
		total += n
		if err != nil {
			return total, fmt.Errorf("sqlite: recover endpoint: %w", err)
		} else if n < recoverBatch {
			return total, nil
		}
	}
}

func (s *Store) recoverBatch(ctx context.Context, endpointID, q string, args []any) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flushHeld(ctx); err != nil {
		return 0, fmt.Errorf("sqlite: recover endpoint: %w", err)
	}
	if s.endpoints.get(endpointID) == nil {
		return 0, endpointNotFound(endpointID)
	}
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	var c countsDelta
	c.add(endpointID, statusPending, n)
	c.add(endpointID, statusFailed, -n)
	s.counts.apply(&c)
	return int(n), nil
}

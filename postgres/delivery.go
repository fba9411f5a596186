package postgres

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/hookline/hookline"
)

// deliveryColumnsSelect are the columns of a hookline.Delivery, from
// deliveries d joined with events e.
const deliveryColumnsSelect = `d.id, d.event_id, d.endpoint_id, e.tenant, e.type, d.priority, d.status,
	d.attempts, d.schedule_offset, d.next_attempt_at, d.last_status_code, d.last_error,
	d.created_at, d.updated_at, d.delivered_at`

const deliveryFrom = ` FROM deliveries d JOIN events e ON e.id = d.event_id`

func scanDelivery(row pgx.Row) (*hookline.Delivery, error) {
	var d hookline.Delivery
	var status, priority int16
	if err := row.Scan(&d.ID, &d.EventID, &d.EndpointID, &d.Tenant, &d.EventType, &priority, &status,
		&d.Attempts, &d.ScheduleOffset, &d.NextAttemptAt, &d.LastStatusCode, &d.LastError,
		&d.CreatedAt, &d.UpdatedAt, &d.DeliveredAt); err != nil {
		return nil, err
	}
	d.Status, d.Priority = statusOf(status), int(priority)
	d.NextAttemptAt, d.DeliveredAt = utc(d.NextAttemptAt), utc(d.DeliveredAt)
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return &d, nil
}

func deliveryNotFound(id string) error {
	return hookline.Errorf(hookline.ENOTFOUND, "delivery %s not found", id)
}

// FindDelivery returns one delivery, or ENOTFOUND.
func (s *Store) FindDelivery(ctx context.Context, id string) (*hookline.Delivery, error) {
	d, err := scanDelivery(s.pool.QueryRow(ctx, "SELECT "+deliveryColumnsSelect+deliveryFrom+" WHERE d.id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, deliveryNotFound(id)
	} else if err != nil {
		return nil, s.wrap("find delivery", err)
	}
	return d, nil
}

// FindDeliveries returns a page of deliveries, newest first, and the cursor
// of the next page ("" on the last page). A status other than the three is
// EINVALID. Every list index ends in id, so a time range (an ID range, then
// the exact times) and the cursor narrow the walk; a type pattern without
// an event or endpoint is the merge of one walk of deliveries_type per type
// it matches, each stopping at the page's end.
func (s *Store) FindDeliveries(ctx context.Context, f hookline.DeliveryFilter) ([]*hookline.Delivery, string, error) {
	if f.Status != "" && !f.Status.Valid() {
		return nil, "", hookline.Errorf(hookline.EINVALID, "status: must be pending, delivered or failed")
	}
	limit := pageLimit(f.Limit)
	// A type pattern, unless an event is given, is the merge of one walk per
	// type it matches: of deliveries_type, or of deliveries_endpoint_type
	// (deliveries_failed_endpoint_type) for the types the endpoint has.
	types := []string{f.EventType}
	if prefix, ok := hookline.TypePrefix(f.EventType); ok && f.EventID == "" {
		var err error
		if f.EndpointID != "" {
			types, err = s.typesWithPrefix(ctx, queryEndpointDeliveryTypes, "event_type", prefix, f.EndpointID)
		} else {
			types, err = s.typesWithPrefix(ctx, queryDeliveryTypes, "event_type", prefix)
		}
		if err != nil {
			return nil, "", err
		} else if len(types) == 0 {
			return nil, "", nil
		}
	}
	var c conds
	var parts []string
	for _, t := range types {
		f.EventType = t
		deliveryWhere(&c, f)
		parts = append(parts, "SELECT "+deliveryColumnsSelect+deliveryFrom+whereClause(c.where)+
			" ORDER BY d.id DESC LIMIT "+c.arg(limit+1))
		c.where = nil
	}
	query := parts[0]
	if len(parts) > 1 {
		for i, p := range parts {
			parts[i] = "SELECT * FROM (" + p + ") t" + strconv.Itoa(i)
		}
		query = strings.Join(parts, " UNION ALL ") + " ORDER BY 1 DESC LIMIT " + c.arg(limit+1)
	}
	rows, err := s.pool.Query(ctx, query, c.args...)
	if err != nil {
		return nil, "", s.wrap("find deliveries", err)
	}
	ds, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*hookline.Delivery, error) { return scanDelivery(row) })
	if err != nil {
		return nil, "", s.wrap("find deliveries", err)
	}
	ds, next := paginate(ds, limit, func(d *hookline.Delivery) string { return d.ID })
	return ds, next, nil
}

// conds are the conditions of a query and their arguments.
type conds struct {
	where []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (c *conds) arg(v any) string {
	c.args = append(c.args, v)
	return "$" + strconv.Itoa(len(c.args))
}

// add adds a condition; each "?" in it is the next of args.
func (c *conds) add(cond string, args ...any) {
	var b strings.Builder
	for _, a := range args {
		i := strings.IndexByte(cond, '?')
		b.WriteString(cond[:i])
		b.WriteString(c.arg(a))
		cond = cond[i+1:]
	}
	b.WriteString(cond)
	c.where = append(c.where, b.String())
}

// deliveryWhere adds the conditions of f (Cursor included) on deliveries d.
// The status is a literal, so that a generic plan can use the partial
// indexes of dead letters.
func deliveryWhere(c *conds, f hookline.DeliveryFilter) {
	if f.EventID != "" {
		c.add("d.event_id = ?", f.EventID)
	}
	if f.EndpointID != "" {
		c.add("d.endpoint_id = ?", f.EndpointID)
	}
	if prefix, ok := hookline.TypePrefix(f.EventType); ok {
		c.add("d.event_type >= ? AND d.event_type < ?", prefix, hookline.PrefixEnd(prefix))
	} else if f.EventType != "" {
		c.add("d.event_type = ?", f.EventType)
	}
	if f.Status != "" {
		c.add("d.status = " + strconv.Itoa(int(statusValue(f.Status))))
	}
	lo, hi := hookline.IDRange(hookline.DeliveryPrefix, f.Since, f.Until)
	if lo != "" {
		c.add("d.id >= ? AND d.created_at >= ?", lo, truncate(f.Since))
	}
	if hi != "" {
		c.add("d.id < ? AND d.created_at < ?", hi, truncate(f.Until))
	}
	if f.Cursor != "" {
		c.add("d.id < ?", f.Cursor)
	}
}

// queryDeliveryTypes and queryEventTypes are loose index scans of the types
// that start with a prefix ($1) below its end ($2), up to $3 of them: one
// seek per type, however many rows each has. queryEndpointDeliveryTypes is
// that of the types of one endpoint's deliveries ($4), on
// deliveries_endpoint_type.
const (
	queryEndpointDeliveryTypes = `WITH RECURSIVE t(x) AS (
		SELECT (SELECT min(event_type) FROM deliveries WHERE endpoint_id = $4 AND event_type >= $1 AND event_type < $2)
		UNION ALL
		SELECT (SELECT min(event_type) FROM deliveries WHERE endpoint_id = $4 AND event_type > t.x AND event_type < $2)
		FROM t WHERE t.x IS NOT NULL)
	SELECT x FROM t WHERE x IS NOT NULL LIMIT $3`
	queryDeliveryTypes = `WITH RECURSIVE t(x) AS (
		SELECT (SELECT min(event_type) FROM deliveries WHERE event_type >= $1 AND event_type < $2)
		UNION ALL
		SELECT (SELECT min(event_type) FROM deliveries WHERE event_type > t.x AND event_type < $2)
		FROM t WHERE t.x IS NOT NULL)
	SELECT x FROM t WHERE x IS NOT NULL LIMIT $3`
	queryEventTypes = `WITH RECURSIVE t(x) AS (
		SELECT (SELECT min(type COLLATE "C") FROM events WHERE type COLLATE "C" >= $1 AND type COLLATE "C" < $2)
		UNION ALL
		SELECT (SELECT min(type COLLATE "C") FROM events WHERE type COLLATE "C" > t.x AND type COLLATE "C" < $2)
		FROM t WHERE t.x IS NOT NULL)
	SELECT x FROM t WHERE x IS NOT NULL LIMIT $3`
)

// typesWithPrefix returns the distinct types that start with prefix, by
// query (queryDeliveryTypes, queryEndpointDeliveryTypes with the endpoint's
// ID in more, or queryEventTypes); more than hookline.MaxPatternTypes is
// EINVALID, naming field.
func (s *Store) typesWithPrefix(ctx context.Context, query, field, prefix string, more ...any) ([]string, error) {
	args := append([]any{prefix, hookline.PrefixEnd(prefix), hookline.MaxPatternTypes + 1}, more...)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, s.wrap("types of "+prefix+"*", err)
	}
	types, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, s.wrap("types of "+prefix+"*", err)
	}
	if len(types) > hookline.MaxPatternTypes {
		return nil, hookline.TooManyTypes(field, prefix)
	}
	return types, nil
}

// FindAttempts returns the attempts of a delivery, first attempt first, or
// ENOTFOUND when the delivery does not exist.
func (s *Store) FindAttempts(ctx context.Context, deliveryID string) ([]*hookline.Attempt, error) {
	// One statement, so one snapshot: the delivery and its attempts.
	rows, err := s.pool.Query(ctx, `SELECT a.attempt, a.started_at, a.duration_us, a.status_code,
		a.error, a.response_body FROM deliveries d LEFT JOIN attempts a ON a.delivery_id = d.id
		WHERE d.id = $1 ORDER BY a.attempt`, deliveryID)
	if err != nil {
		return nil, s.wrap("find attempts", err)
	}
	defer rows.Close()
	found := false
	as := []*hookline.Attempt{}
	for rows.Next() {
		found = true
		var n, code *int32
		var started *time.Time
		var dur *int64
		var errText *string
		var body []byte
		if err := rows.Scan(&n, &started, &dur, &code, &errText, &body); err != nil {
			return nil, s.wrap("find attempts", err)
		}
		if n == nil {
			continue // a delivery without attempts
		}
		as = append(as, &hookline.Attempt{
			DeliveryID:   deliveryID,
			Attempt:      int(*n),
			StartedAt:    started.UTC(),
			Duration:     time.Duration(*dur) * time.Microsecond,
			StatusCode:   int(*code),
			Error:        *errText,
			ResponseBody: string(body),
		})
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("find attempts", err)
	}
	if !found {
		return nil, deliveryNotFound(deliveryID)
	}
	return as, nil
}

// ClaimDue claims, endpoint by endpoint, up to each request's limit of due,
// pending, unclaimed deliveries, in one transaction, and for each endpoint
// the earliest due time left.
//
// An endpoint's deliveries come in the order work is taken (due time less
// priority × PriorityStep, on the partial index deliveries_due_order), found
// with SELECT … FOR UPDATE SKIP LOCKED (so nodes claiming at once never wait
// for each other, nor claim a row twice), with the rest of any batch they
// were last sent in (a batch is retried whole). A fifo endpoint gives only
// the first pending delivery of each ordering key (a run of up to its batch
// size when batched), and only when nothing of that key is claimed: the
// keys are found by a loose index scan of deliveries_fifo. Then one UPDATE
// by primary key marks them claimed, joined with their events and
// endpoints: each event's data comes once, its payload built once and
// shared by its tasks, and so is the endpoint snapshot.
//
// Claims commit without waiting for their WAL to reach the disk
// (synchronous_commit off): a claim only notes that a node holds a delivery
// in memory. Should the database crash and lose the last claims, their
// deliveries are claimed again and may be sent twice, which at-least-once
// delivery allows.
func (s *Store) ClaimDue(ctx context.Context, reqs []hookline.ClaimRequest, now time.Time) ([]hookline.ClaimResult, error) {
	out := make([]hookline.ClaimResult, len(reqs))
	if len(reqs) == 0 {
		return out, nil
	}
	now = truncate(now)
	index := make(map[string]int, len(reqs)) // endpoint → its first request
	for i := len(reqs) - 1; i >= 0; i-- {
		index[reqs[i].EndpointID] = i
	}
	err := s.retry(ctx, "claim deliveries", func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			for i := range out {
				out[i] = hookline.ClaimResult{}
			}
			return s.claim(ctx, tx, reqs, index, now, out)
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// claim is the transaction of ClaimDue.
func (s *Store) claim(ctx context.Context, tx pgx.Tx, reqs []hookline.ClaimRequest, index map[string]int,
	now time.Time, out []hookline.ClaimResult) error {
	if _, err := tx.Exec(ctx, `SELECT set_config('synchronous_commit', 'off', true), set_config('enable_bitmapscan', 'off', true)`); err != nil {
		return err
	}
	ids := make([]string, len(reqs))
	for i, r := range reqs {
		ids[i] = r.EndpointID
	}
	runs := make(map[string]int)  // fifo endpoints → run length
	live := make(map[string]bool) // endpoints not deleted
	rows, err := tx.Query(ctx, `SELECT id, ordering = 'fifo', batch_max_events FROM endpoints
		WHERE id = ANY($1) AND deleted_at IS NULL`, ids)
	if err != nil {
		return err
	}
	var id string
	var fifo bool
	var batch int32
	if _, err := pgx.ForEachRow(rows, []any{&id, &fifo, &batch}, func() error {
		live[id] = true
		if fifo {
			runs[id] = max(1, int(batch))
		}
		return nil
	}); err != nil {
		return err
	}
	var plain []string
	var limits []int32
	var claim []string
	for _, r := range reqs {
		if _, fifo := runs[r.EndpointID]; fifo || r.Limit <= 0 || !live[r.EndpointID] {
			continue
		}
		plain, limits = append(plain, r.EndpointID), append(limits, int32(r.Limit))
	}
	if len(plain) > 0 {
		rows, err := tx.Query(ctx, `SELECT x.id, x.batch_id FROM unnest($1::text[], $2::int[]) AS r (endpoint_id, lim),
			LATERAL (SELECT id, batch_id FROM deliveries
				WHERE endpoint_id = r.endpoint_id AND status = 0 AND NOT claimed
				AND due_order(next_attempt_at, priority) <= $3 AND next_attempt_at <= $3
				ORDER BY due_order(next_attempt_at, priority) LIMIT r.lim
				FOR UPDATE SKIP LOCKED) x`, plain, limits, now)
		if err != nil {
			return err
		}
		var batches []string
		var bid *string
		if _, err := pgx.ForEachRow(rows, []any{&id, &bid}, func() error {
			claim = append(claim, id)
			if bid != nil && !slices.Contains(batches, *bid) {
				batches = append(batches, *bid)
			}
			return nil
		}); err != nil {
			return err
		}
		if len(batches) > 0 {
			rows, err := tx.Query(ctx, `SELECT id FROM deliveries WHERE batch_id = ANY($1) AND status = 0 AND NOT claimed
				FOR UPDATE SKIP LOCKED`, batches)
			if err != nil {
				return err
			}
			more, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			for _, m := range more {
				if !slices.Contains(claim, m) {
					claim = append(claim, m)
				}
			}
		}
	}
	done := make(map[string]bool)
	for _, r := range reqs {
		run, fifo := runs[r.EndpointID]
		if !fifo || done[r.EndpointID] {
			continue
		}
		done[r.EndpointID] = true
		heads, next, err := s.fifoHeads(ctx, tx, r.EndpointID, run, r.Limit, now)
		if err != nil {
			return err
		}
		claim = append(claim, heads...)
		out[index[r.EndpointID]].Next = next
	}
	tasks, err := s.claimIDs(ctx, tx, claim, now)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		i := index[t.Endpoint.ID]
		out[i].Tasks = append(out[i].Tasks, t)
	}
	for i := range out {
		if _, fifo := runs[reqs[i].EndpointID]; fifo {
			slices.SortFunc(out[i].Tasks, func(a, b *hookline.Task) int {
				return cmp.Or(cmp.Compare(a.OrderingKey, b.OrderingKey), cmp.Compare(a.Seq, b.Seq))
			})
		} else {
			slices.SortFunc(out[i].Tasks, func(a, b *hookline.Task) int {
				return cmp.Or(a.Due.Add(-time.Duration(a.Priority)*hookline.PriorityStep).Compare(
					b.Due.Add(-time.Duration(b.Priority)*hookline.PriorityStep)), cmp.Compare(a.DeliveryID, b.DeliveryID))
			})
		}
	}
	if len(plain) == 0 && len(reqs) == len(runs) {
		return nil
	}
	rows, err = tx.Query(ctx, `SELECT r.endpoint_id, (SELECT min(next_attempt_at) FROM deliveries
			WHERE endpoint_id = r.endpoint_id AND status = 0 AND NOT claimed)
		FROM unnest($1::text[]) AS r (endpoint_id)`, ids)
	if err != nil {
		return err
	}
	var next *time.Time
	nexts := make(map[string]time.Time)
	if _, err = pgx.ForEachRow(rows, []any{&id, &next}, func() error {
		if next != nil {
			nexts[id] = next.UTC()
		}
		return nil
	}); err != nil {
		return err
	}
	for i, r := range reqs {
		if _, fifo := runs[r.EndpointID]; !fifo && live[r.EndpointID] {
			out[i].Next = nexts[r.EndpointID]
		}
	}
	return nil
}

// fifoHeads returns the IDs of a fifo endpoint's claimable heads, up to
// limit: for each key with pending deliveries, its first in accepted order
// (with a run of up to run deliveries of one batch, or fresh), when nothing
// of the key is claimed and the first is due; and the earliest due time of
// a head not due yet (zero when none; now when the limit cut the scan).
func (s *Store) fifoHeads(ctx context.Context, tx pgx.Tx, endpointID string, run, limit int, now time.Time) ([]string, time.Time, error) {
	rows, err := tx.Query(ctx, `WITH RECURSIVE k (okey) AS (
			(SELECT okey FROM deliveries WHERE endpoint_id = $1 AND status = 0 AND okey IS NOT NULL ORDER BY okey LIMIT 1)
			UNION ALL
			SELECT (SELECT okey FROM deliveries WHERE endpoint_id = $1 AND status = 0 AND okey > k.okey
				ORDER BY okey LIMIT 1) FROM k WHERE k.okey IS NOT NULL)
		SELECT k.okey, h.id, h.claimed, h.next_attempt_at, h.batch_id FROM k,
			LATERAL (SELECT id, claimed, next_attempt_at, batch_id, seq FROM deliveries
				WHERE endpoint_id = $1 AND status = 0 AND okey = k.okey ORDER BY seq LIMIT $2) h
		WHERE k.okey IS NOT NULL ORDER BY k.okey, h.seq`, endpointID, run)
	if err != nil {
		return nil, time.Time{}, err
	}
	type row struct {
		key, id string
		claimed bool
		next    time.Time
		batch   *string
	}
	lines, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.key, &x.id, &x.claimed, &x.next, &x.batch)
		return x, err
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	var ids []string
	var next time.Time
	for i := 0; i < len(lines); {
		key, j := lines[i].key, i
		for j < len(lines) && lines[j].key == key {
			j++
		}
		line := lines[i:j]
		i = j
		head := line[0]
		if head.claimed {
			continue
		}
		if head.next.After(now) {
			if next.IsZero() || head.next.Before(next) {
				next = head.next
			}
			continue
		}
		if len(ids) >= limit {
			next = now
			break
		}
		for k, x := range line {
			if x.claimed || x.next.After(now) || (k > 0 && !samePtr(x.batch, head.batch)) {
				break
			}
			ids = append(ids, x.id)
		}
	}
	return ids, next, nil
}

func samePtr(a, b *string) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

// claimIDs marks deliveries claimed by this store at now and returns their
// tasks, with payloads.
func (s *Store) claimIDs(ctx context.Context, tx pgx.Tx, ids []string, now time.Time) ([]*hookline.Task, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `WITH c AS (
			UPDATE deliveries d SET claimed = true, claimed_by = $2, claimed_at = $3
			WHERE d.id = ANY($1) AND status = 0 AND NOT claimed
			RETURNING d.id, d.event_id, d.endpoint_id, d.partition, d.attempts, d.schedule_offset, d.next_attempt_at,
				d.priority, d.seq, d.okey, d.batch_id)
		SELECT c.id, c.event_id, c.partition, c.attempts, c.schedule_offset, c.next_attempt_at,
			c.priority, c.seq, c.okey, c.batch_id,
			e.type, e.created_at, row_number() OVER ev = 1, CASE WHEN row_number() OVER ev = 1 THEN e.data END,
			`+prefixed("p.", endpointColumns)+`
		FROM c JOIN events e ON e.id = c.event_id JOIN endpoints p ON p.id = c.endpoint_id
		WINDOW ev AS (PARTITION BY c.event_id)`, ids, s.owner, now)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	payloads := make(map[string][]byte)
	endpoints := make(map[string]*hookline.Endpoint)
	var tasks []*hookline.Task
	for rows.Next() {
		t := &hookline.Task{}
		var partition, attempts, offset int32
		var priority int16
		var okey, batch *string
		var ev hookline.Event
		var firstOfEvent bool
		var data []byte
		ep := &hookline.Endpoint{}
		fields, finish := endpointFields(ep, s.box)
		if err := rows.Scan(append([]any{&t.DeliveryID, &t.EventID, &partition, &attempts, &offset, &t.Due,
			&priority, &t.Seq, &okey, &batch, &ev.Type, &ev.CreatedAt, &firstOfEvent, &data}, fields...)...); err != nil {
			return nil, err
		}
		if err := finish(); err != nil {
			return nil, err
		}
		t.Partition, t.Attempts, t.ScheduleOffset, t.Priority = int(partition), int(attempts), int(offset), int(priority)
		t.Due, t.EventCreatedAt = t.Due.UTC(), ev.CreatedAt.UTC()
		if okey != nil {
			t.OrderingKey = *okey
		}
		if batch != nil {
			t.BatchID = *batch
		}
		if firstOfEvent {
			ev.ID, ev.CreatedAt = t.EventID, t.EventCreatedAt
			if len(data) > 0 {
				ev.Data = data
			}
			payloads[ev.ID] = ev.Payload()
		}
		if t.Endpoint = endpoints[ep.ID]; t.Endpoint == nil {
			endpoints[ep.ID], t.Endpoint = ep, ep
		}
		tasks = append(tasks, t)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, t := range tasks {
		t.Payload = payloads[t.EventID]
	}
	return tasks, nil
}

// prefixed qualifies each of a comma-separated list of columns with p.
func prefixed(p, columns string) string {
	fs := strings.Split(columns, ",")
	for i, f := range fs {
		fs[i] = p + strings.TrimSpace(f)
	}
	return strings.Join(fs, ", ")
}

// DueEndpoints returns the endpoints of the given partitions (nil means
// all) with pending, unclaimed deliveries and the earliest due time of
// each. It is a loose index scan of deliveries_due (a recursive query that
// seeks from one endpoint to the next), so its cost does not grow with the
// backlog.
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
	// The scan visits the endpoints of every partition; the partition of an
	// endpoint follows from its ID, so those of others are skipped here.
	rows, err := s.pool.Query(ctx, `WITH RECURSIVE ep(id) AS (
			(SELECT endpoint_id FROM deliveries WHERE status = 0 AND NOT claimed ORDER BY endpoint_id LIMIT 1)
			UNION ALL
			SELECT (SELECT endpoint_id FROM deliveries WHERE status = 0 AND NOT claimed AND endpoint_id > ep.id
				ORDER BY endpoint_id LIMIT 1)
			FROM ep WHERE ep.id IS NOT NULL)
		SELECT ep.id, (SELECT min(next_attempt_at) FROM deliveries
			WHERE status = 0 AND NOT claimed AND endpoint_id = ep.id)
		FROM ep WHERE ep.id IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM endpoints p WHERE p.id = ep.id AND p.deleted_at IS NOT NULL)`)
	if err != nil {
		return nil, s.wrap("due endpoints", err)
	}
	var out []hookline.EndpointDue
	var id string
	var due time.Time
	_, err = pgx.ForEachRow(rows, []any{&id, &due}, func() error {
		p := hookline.PartitionOf(id)
		if mask == nil || mask[p] {
			out = append(out, hookline.EndpointDue{EndpointID: id, Partition: p, Due: due.UTC()})
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap("due endpoints", err)
	}
	return out, nil
}

// Unclaim marks deliveries as no longer held in memory. Unknown IDs are
// ignored.
func (s *Store) Unclaim(ctx context.Context, deliveryIDs []string) error {
	if len(deliveryIDs) == 0 {
		return nil
	}
	return s.exec(ctx, "unclaim deliveries", "UPDATE deliveries SET claimed = false WHERE claimed AND claimed_by = $2 AND id = ANY($1)", deliveryIDs, s.owner)
}

// ResetClaims unclaims every pending delivery of the given partitions (nil
// means all, empty means none).
func (s *Store) ResetClaims(ctx context.Context, partitions []int) error {
	if partitions == nil {
		return s.exec(ctx, "reset claims", "UPDATE deliveries SET claimed = false WHERE claimed")
	} else if len(partitions) == 0 {
		return nil
	}
	return s.exec(ctx, "reset claims", "UPDATE deliveries SET claimed = false WHERE claimed AND partition = ANY($1::int[])", partitions)
}

// exec runs one statement, again if it loses a race (a deadlock with a
// batch that locked the same deliveries in another order).
func (s *Store) exec(ctx context.Context, op, query string, args ...any) error {
	return s.retry(ctx, op, func() error {
		_, err := s.pool.Exec(ctx, query, args...)
		return err
	})
}

// RecordOutcomes writes a batch of attempt outcomes in one statement: for
// each, the delivery's new state with its claim released, and the attempt
// row. A delivery is updated only while it is pending, unclaimed or claimed
// by this store, and when the outcome's attempt number is past its count;
// the outcomes of the others are dropped, and a second query, only when
// some were, tells why (hookline.Outcome.Dropped). An attempt recorded
// already with the same start was written by an earlier call (a batch
// written again after its reply was lost) and is not marked. Several
// outcomes of one delivery in a batch apply in order.
func (s *Store) RecordOutcomes(ctx context.Context, outcomes []hookline.Outcome, now time.Time) error {
	if len(outcomes) == 0 {
		return nil
	}
	now = truncate(now)
	// The deliveries' new states, one per delivery: the last outcome's, with
	// the highest attempt count, delivered_at set if any was a success.
	type update struct {
		status    int16
		attempt   int32
		code      int32
		err       string
		next      *time.Time
		delivered bool
		batch     *string
	}
	updates := make(map[string]*update, len(outcomes))
	n := len(outcomes)
	a := struct {
		id           []string
		attempt      []int32
		started      []time.Time
		duration     []int64
		code         []int32
		err          []string
		responseBody [][]byte
	}{make([]string, n), make([]int32, n), make([]time.Time, n), make([]int64, n), make([]int32, n), make([]string, n), make([][]byte, n)}
	for i := range outcomes {
		o := &outcomes[i]
		at := &o.Attempt
		if !o.Status.Valid() {
			return hookline.Errorf(hookline.EINVALID, "outcome of delivery %s: status %q", at.DeliveryID, o.Status)
		}
		u := updates[at.DeliveryID]
		if u == nil {
			u = &update{}
			updates[at.DeliveryID] = u
		}
		u.status, u.attempt = statusValue(o.Status), max(u.attempt, int32(at.Attempt))
		u.code, u.err, u.next = int32(at.StatusCode), text(at.Error), nil
		u.delivered = u.delivered || o.Status == hookline.StatusDelivered
		u.batch = nil
		if o.Status == hookline.StatusPending {
			next := now
			if !o.NextAttemptAt.IsZero() {
				next = truncate(o.NextAttemptAt)
			}
			u.next = &next
			if o.BatchID != "" {
				b := o.BatchID
				u.batch = &b
			}
		}
		a.id[i], a.attempt[i], a.started[i] = at.DeliveryID, int32(at.Attempt), truncate(at.StartedAt)
		a.duration[i], a.code[i], a.err[i] = at.Duration.Microseconds(), int32(at.StatusCode), text(at.Error)
		a.responseBody[i] = []byte(at.ResponseBody)
	}
	// In ID order, so that two batches lock the deliveries they share in
	// the same order.
	ids := make([]string, 0, len(updates))
	for id := range updates {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	m := len(ids)
	statuses, attempts, codes := make([]int16, m), make([]int32, m), make([]int32, m)
	errs, nexts, delivered, batches := make([]string, m), make([]*time.Time, m), make([]bool, m), make([]*string, m)
	for i, id := range ids {
		u := updates[id]
		statuses[i], attempts[i], codes[i], errs[i], nexts[i], delivered[i] = u.status, u.attempt, u.code, u.err, u.next, u.delivered
		batches[i] = u.batch
	}
	var applied []string
	err := s.retry(ctx, "record outcomes", func() error {
		rows, err := s.pool.Query(ctx, `WITH u AS (
			UPDATE deliveries d SET status = u.status, attempts = greatest(d.attempts, u.attempt),
				last_status_code = u.code, last_error = u.error, next_attempt_at = u.next, claimed = false,
				updated_at = $8, delivered_at = CASE WHEN u.delivered THEN $8 ELSE d.delivered_at END, batch_id = u.batch
			FROM unnest($1::text[], $2::smallint[], $3::int[], $4::int[], $5::text[], $6::timestamptz[], $7::boolean[], $16::text[])
				AS u (id, status, attempt, code, error, next, delivered, batch)
			WHERE d.id = u.id AND d.status = 0 AND (NOT d.claimed OR d.claimed_by = $17) AND d.attempts < u.attempt
			RETURNING d.id),
		a AS (INSERT INTO attempts (delivery_id, attempt, started_at, duration_us, status_code, error, response_body)
			SELECT a.* FROM unnest($9::text[], $10::int[], $11::timestamptz[], $12::bigint[], $13::int[], $14::text[], $15::bytea[])
				AS a (delivery_id, attempt, started_at, duration_us, status_code, error, response_body)
			WHERE a.delivery_id IN (SELECT id FROM u)
			ON CONFLICT (delivery_id, attempt) DO NOTHING)
		SELECT id FROM u`,
			ids, statuses, attempts, codes, errs, nexts, delivered, now,
			a.id, a.attempt, a.started, a.duration, a.code, a.err, a.responseBody, batches, s.owner)
		if err != nil {
			return err
		}
		applied, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return err
	}
	for i := range outcomes {
		outcomes[i].Dropped = ""
	}
	if len(applied) == len(ids) {
		return nil
	}
	return s.dropped(ctx, outcomes, applied)
}

// dropped marks the outcomes that RecordOutcomes did not write with why,
// from the deliveries as they are now: gone, settled, held by another
// store, or with an attempt of the same number or a later one recorded. An
// outcome whose attempt is recorded with the same start was written by an
// earlier call, and is not marked.
func (s *Store) dropped(ctx context.Context, outcomes []hookline.Outcome, applied []string) error {
	written := make(map[string]bool, len(applied))
	for _, id := range applied {
		written[id] = true
	}
	var idx []int
	var ids []string
	var attempts []int32
	var started []time.Time
	for i := range outcomes {
		if a := &outcomes[i].Attempt; !written[a.DeliveryID] {
			idx = append(idx, i)
			ids, attempts, started = append(ids, a.DeliveryID), append(attempts, int32(a.Attempt)), append(started, truncate(a.StartedAt))
		}
	}
	rows, err := s.pool.Query(ctx, `SELECT x.n, d.id IS NOT NULL, coalesce(d.status, 0), coalesce(d.claimed AND d.claimed_by IS DISTINCT FROM $4, false),
			coalesce(d.attempts, 0), EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = x.id AND a.attempt = x.attempt AND a.started_at = x.started)
		FROM unnest($1::text[], $2::int[], $3::timestamptz[]) WITH ORDINALITY AS x (id, attempt, started, n)
		LEFT JOIN deliveries d ON d.id = x.id`, ids, attempts, started, s.owner)
	if err != nil {
		return s.wrap("record outcomes", err)
	}
	var n int64
	var exists, other, recorded bool
	var status int16
	var count int32
	_, err = pgx.ForEachRow(rows, []any{&n, &exists, &status, &other, &count, &recorded}, func() error {
		i := idx[n-1]
		at := int32(outcomes[i].Attempt.Attempt)
		var why hookline.OutcomeDrop
		switch {
		case !exists:
			why = hookline.DropGone
		case recorded:
		case status != statusPending:
			why = hookline.DropSettled
		case other:
			why = hookline.DropNotHeld
		case at == count:
			why = hookline.DropCollision
		case at < count:
			why = hookline.DropStale
		default:
			why = hookline.DropNotHeld // it changed hands between the two statements
		}
		outcomes[i].Dropped = why
		return nil
	})
	return s.wrap("record outcomes", err)
}

// text returns s as PostgreSQL's text takes it: valid UTF-8 without NUL. An
// error message may quote bytes a receiver sent.
func text(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// RetryDelivery makes one delivery pending and due now, whatever its
// status, and returns it, or ENOTFOUND. Its attempts are kept, its retry
// schedule restarts from them (ScheduleOffset = Attempts), and DeliveredAt is
// cleared. A pending delivery keeps its claim: it is already in memory.
func (s *Store) RetryDelivery(ctx context.Context, id string, now time.Time) (*hookline.Delivery, error) {
	var d *hookline.Delivery
	err := s.retry(ctx, "retry delivery", func() error {
		var err error
		d, err = scanDelivery(s.pool.QueryRow(ctx, `WITH d AS (
				UPDATE deliveries SET status = 0, claimed = CASE WHEN status = 0 THEN claimed ELSE false END,
					next_attempt_at = $2, schedule_offset = attempts, updated_at = $2, delivered_at = NULL, batch_id = NULL
				WHERE id = $1 RETURNING *)
			SELECT `+deliveryColumnsSelect+` FROM d JOIN events e ON e.id = d.event_id`, id, truncate(now)))
		if errors.Is(err, pgx.ErrNoRows) {
			return deliveryNotFound(id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	s.notify.due()
	return d, nil
}

// RecoverEndpoint makes every failed delivery of an endpoint created at or
// after since (zero means all) pending and due now, as RetryDelivery does,
// and returns how many; ENOTFOUND when the endpoint does not exist.
func (s *Store) RecoverEndpoint(ctx context.Context, endpointID string, since, now time.Time) (int, error) {
	var exists bool
	var n int
	err := s.retry(ctx, "recover endpoint", func() error {
		return s.pool.QueryRow(ctx, `WITH u AS (
				UPDATE deliveries SET status = 0, claimed = false, next_attempt_at = $2,
					schedule_offset = attempts, updated_at = $2, delivered_at = NULL, batch_id = NULL
				WHERE endpoint_id = $1 AND status = 2 AND created_at >= $3
					AND EXISTS (SELECT 1 FROM endpoints WHERE id = $1 AND deleted_at IS NULL)
				RETURNING 1)
			SELECT EXISTS (SELECT 1 FROM endpoints WHERE id = $1 AND deleted_at IS NULL), (SELECT count(*) FROM u)`,
			endpointID, truncate(now), truncate(since)).Scan(&exists, &n)
	})
	if err != nil {
		return 0, err
	} else if !exists {
		return 0, endpointNotFound(endpointID)
	}
	if n > 0 {
		s.notify.due()
	}
	return n, nil
}

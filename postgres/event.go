package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/filter"
)

// Ingest writes the events of every request and their fan-out in one
// transaction, committed durably before it returns. It costs two round
// trips however many requests, events and deliveries it writes: BEGIN with
// the endpoints version and every idempotency key of the call; then the rows
// (each table one INSERT of unnested arrays, the 10,000 deliveries of one
// event included) with COMMIT. A third loads the subscriptions of tenants
// whose endpoints changed since this node last looked.
//
// For each request, idempotency keys are checked first: against the keys
// stored, earlier requests of the same call and earlier events of the same
// request. A key used with another request hash sets the request's Err to
// ECONFLICT, and nothing of that request is written. Then each new event
// fans out to the enabled endpoints of its tenant that match its type.
//
// Two nodes may take the same new key at once. The key's INSERT of the
// second waits for the first transaction; when that commits, the INSERT fails
// on the key's primary key, and the second runs again, now answering with the
// first one's result (a duplicate) or a conflict, as if it had come second.
func (s *Store) Ingest(ctx context.Context, reqs []*hookline.IngestRequest, now time.Time) error {
	now = truncate(now)
	events := 0
	for _, r := range reqs {
		events += len(r.Events)
	}
	if events == 0 {
		for _, r := range reqs {
			r.Results, r.Tasks, r.Err = []hookline.IngestResult{}, nil, nil
		}
		return nil
	}
	var in *ingest
	err := s.retry(ctx, "ingest", func() error {
		for _, r := range reqs {
			r.Results, r.Tasks, r.Err = nil, nil, nil
		}
		in = &ingest{s: s, now: now, keys: make(map[hookline.IdempotencyID]*hookline.IdempotencyEntry)}
		return in.run(ctx, reqs)
	})
	if err != nil {
		for _, r := range reqs {
			r.Results, r.Tasks, r.Err = nil, nil, nil
		}
		return err
	}
	if in.unclaimed {
		s.notify.due()
	}
	return nil
}

// run runs the transaction of an Ingest call on a connection of its own,
// with BEGIN and COMMIT sent in the batches of the statements around them.
func (in *ingest) run(ctx context.Context, reqs []*hookline.IngestRequest) error {
	conn, err := in.s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	in.q = conn
	if err = in.prepare(ctx, reqs); err == nil {
		for _, r := range reqs {
			in.request(r)
		}
		err = in.write(ctx)
	}
	if err != nil {
		rollback(ctx, conn)
	}
	return err
}

// ingest is the state of one Ingest (or ReplayEvent) transaction.
type ingest struct {
	s   *Store
	q   querier // the transaction's connection
	now time.Time

	subs    map[string][]subscriber                               // by tenant
	keys    map[hookline.IdempotencyID]*hookline.IdempotencyEntry // live keys: stored, and taken by this call
	putKeys []hookline.IdempotencyID                              // keys this call takes, in the order first used

	events     eventRows
	deliveries deliveryRows
	unclaimed  bool        // some deliveries were written unclaimed
	docs       filter.Docs // of the events, for the endpoints' filters
}

// eventRows and deliveryRows are the columns of the rows to insert.
type eventRows struct {
	id, tenant, typ []string
	data            [][]byte
	created         []time.Time
	deliveries      []int32
	priority        []int16
	orderingKey     []string
}

// deliveryRows are the new deliveries; okey is nil for deliveries to
// endpoints that do not order by key.
type deliveryRows struct {
	id, eventID, endpointID []string
	partition               []int32
	claimed                 []bool
	priority                []int16
	okey                    []*string
	eventType               []string
}

// prepare locks the endpoints version, and reads the stored idempotency
// keys of the call and the subscriptions of its tenants.
func (in *ingest) prepare(ctx context.Context, reqs []*hookline.IngestRequest) error {
	var tenants, keyTenants, keys []string
	seen := make(map[string]bool)
	for _, r := range reqs {
		for _, ev := range r.Events {
			if !seen[ev.Tenant] {
				seen[ev.Tenant] = true
				tenants = append(tenants, ev.Tenant)
			}
			if ev.IdempotencyKey != "" {
				keyTenants, keys = append(keyTenants, ev.Tenant), append(keys, ev.IdempotencyKey)
			}
		}
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	// 202 promises that the events are on disk, whatever the connection's
	// or the database's setting.
	b.Queue("SET LOCAL synchronous_commit = on")
	var version int64
	b.Queue("SELECT version FROM endpoints_version FOR SHARE").QueryRow(func(row pgx.Row) error {
		return row.Scan(&version)
	})
	if len(keys) > 0 {
		b.Queue(`SELECT k.tenant, k.key, k.request_hash, k.event_id, k.deliveries
			FROM idempotency_keys k JOIN unnest($1::text[], $2::text[]) AS u (tenant, key)
			ON k.tenant = u.tenant AND k.key = u.key
			WHERE k.created_at > $3`, keyTenants, keys, in.now.Add(-hookline.IdempotencyWindow)).
			Query(func(rows pgx.Rows) error {
				for rows.Next() {
					var k hookline.IdempotencyID
					e := &hookline.IdempotencyEntry{}
					if err := rows.Scan(&k.Tenant, &k.Key, &e.Hash, &e.EventID, &e.Deliveries); err != nil {
						return err
					}
					in.keys[k] = e
				}
				return rows.Err()
			})
	}
	if err := in.q.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("read endpoints version and idempotency keys: %w", err)
	}
	var err error
	in.subs, err = in.s.subs.lookup(ctx, in.q, version, tenants)
	return err
}

// request plans the rows of one request, or sets its Err. The keys it
// checks were all read by prepare.
func (in *ingest) request(r *hookline.IngestRequest) {
	results := make([]hookline.IngestResult, len(r.Events))
	dup, err := hookline.PlanIdempotency(r.Events, results, func(k hookline.IdempotencyID) (*hookline.IdempotencyEntry, error) {
		return in.keys[k], nil
	})
	if err == nil {
		err = hookline.CheckFanOut(r.Events, dup, r.MaxDeliveries, in.matches)
	}
	if err != nil {
		r.Err = err
		return
	}
	for i, ev := range r.Events {
		if dup != nil && dup[i] != nil {
			continue
		}
		n := len(r.Tasks)
		r.Tasks = in.fanOut(ev, r.Claims, r.Tasks)
		n = len(r.Tasks) - n
		results[i] = hookline.IngestResult{ID: ev.ID, Type: ev.Type, Deliveries: n}
		e := &in.events
		e.id, e.tenant, e.typ = append(e.id, ev.ID), append(e.tenant, ev.Tenant), append(e.typ, ev.Type)
		e.data, e.created = append(e.data, dataArg(ev.Data)), append(e.created, truncate(ev.CreatedAt))
		e.deliveries = append(e.deliveries, int32(n))
		e.priority, e.orderingKey = append(e.priority, int16(hookline.ClampPriority(ev.Priority))), append(e.orderingKey, ev.OrderingKey)
		if ev.IdempotencyKey != "" {
			k := hookline.IdempotencyID{Tenant: ev.Tenant, Key: ev.IdempotencyKey}
			in.keys[k] = &hookline.IdempotencyEntry{Hash: ev.RequestHash, Result: &results[i]}
			in.putKeys = append(in.putKeys, k)
		}
	}
	hookline.AnswerRepeats(r.Events, dup, results)
	r.Results = results
}

// matches counts the endpoints ev fans out to.
func (in *ingest) matches(ev *hookline.Event) int {
	n := 0
	for _, sub := range in.subs[ev.Tenant] {
		if sub.matches(ev, &in.docs) {
			n++
		}
	}
	return n
}

// fanOut plans one pending delivery of ev to each enabled endpoint of its
// tenant that matches its type and returns their tasks, appended to tasks.
func (in *ingest) fanOut(ev *hookline.Event, claims func(ep *hookline.Endpoint, partition int) bool, tasks []*hookline.Task) []*hookline.Task {
	var payload []byte
	created := truncate(ev.CreatedAt)
	priority := hookline.ClampPriority(ev.Priority)
	d := &in.deliveries
	for _, sub := range in.subs[ev.Tenant] {
		if !sub.matches(ev, &in.docs) {
			continue
		}
		if payload == nil {
			payload = payloadOf(ev)
		}
		id := hookline.NewID(hookline.DeliveryPrefix, in.now)
		d.id, d.eventID, d.endpointID = append(d.id, id), append(d.eventID, ev.ID), append(d.endpointID, sub.ep.ID)
		claim := claims(sub.ep, sub.partition)
		d.partition, d.claimed = append(d.partition, int32(sub.partition)), append(d.claimed, claim)
		var okey *string
		if sub.ep.FIFO() {
			okey = &ev.OrderingKey
		}
		d.priority, d.okey = append(d.priority, int16(priority)), append(d.okey, okey)
		d.eventType = append(d.eventType, ev.Type)
		in.unclaimed = in.unclaimed || !claim
		tasks = append(tasks, &hookline.Task{
			DeliveryID:     id,
			EventID:        ev.ID,
			Endpoint:       sub.ep,
			Payload:        payload,
			EventCreatedAt: created,
			Partition:      sub.partition,
			Priority:       priority,
			Due:            in.now,
			OrderingKey:    ev.OrderingKey,
		})
	}
	return tasks
}

// write sends the planned rows and COMMIT in one batch: the idempotency
// keys first, so that a race for a key is lost before anything else is
// written.
func (in *ingest) write(ctx context.Context) error {
	b := &pgx.Batch{}
	if len(in.putKeys) > 0 {
		// Sorted, so that two transactions taking the same keys take them
		// in the same order and cannot deadlock.
		slices.SortFunc(in.putKeys, func(a, b hookline.IdempotencyID) int {
			return cmp.Or(strings.Compare(a.Tenant, b.Tenant), strings.Compare(a.Key, b.Key))
		})
		n := len(in.putKeys)
		tenants, keys, hashes, events := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		counts := make([]int32, n)
		for i, k := range in.putKeys {
			e := in.keys[k]
			tenants[i], keys[i], hashes[i] = k.Tenant, k.Key, e.Hash
			events[i], counts[i] = e.Result.ID, int32(e.Result.Deliveries)
		}
		// An expired key is free: it goes, and the new one takes its place.
		// A live one that another transaction stored since prepare read the
		// keys fails the INSERT (see retryable).
		b.Queue(`DELETE FROM idempotency_keys k USING unnest($1::text[], $2::text[]) AS u (tenant, key)
			WHERE k.tenant = u.tenant AND k.key = u.key AND k.created_at <= $3`,
			tenants, keys, in.now.Add(-hookline.IdempotencyWindow))
		b.Queue(`INSERT INTO idempotency_keys (tenant, key, request_hash, event_id, deliveries, created_at)
			SELECT tenant, key, hash, event_id, deliveries, $6
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) AS u (tenant, key, hash, event_id, deliveries)`,
			tenants, keys, hashes, events, counts, in.now)
	}
	if e := &in.events; len(e.id) > 0 {
		b.Queue(`INSERT INTO events (id, tenant, type, data, created_at, deliveries, priority, ordering_key)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::timestamptz[], $6::int[],
				$7::smallint[], $8::text[])`,
			e.id, e.tenant, e.typ, e.data, e.created, e.deliveries, e.priority, e.orderingKey)
	}
	queueDeliveries(b, &in.deliveries, in.now, false, in.s.owner)
	b.Queue("COMMIT")
	if err := in.q.SendBatch(ctx, b).Close(); err != nil {
		if commitUnknown(err) {
			return fmt.Errorf("write events: %w: %w", err, hookline.ErrCommitUnknown)
		}
		return fmt.Errorf("write events: %w", err)
	}
	return nil
}

// commitUnknown reports whether err, of a batch that ends with COMMIT, leaves
// its outcome unknown. It does not when the server refused a statement with
// an ERROR, after which it rolls the transaction back, nor when nothing of
// the batch was sent. It does when the connection failed, the context ended
// or the reply was lost, and when the server ended the session (a FATAL
// error, such as a termination, may come after the COMMIT was applied).
func commitUnknown(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Severity == "FATAL" || pe.Severity == "PANIC"
	}
	return !pgconn.SafeToRetry(err)
}

// queueDeliveries queues the INSERT of new pending deliveries, due now.
//
// The deliveries of fifo endpoints (okey not NULL) take their accepted
// order from their endpoint's row of endpoint_seqs, in the order planned:
// the upsert locks the row until the transaction ends, so the next ingest
// of that endpoint, on any node, numbers after this one and commits after
// it. Rows are locked in endpoint order, so two ingests cannot deadlock. A
// replayed delivery (replay) takes the number of its event's earlier
// delivery to the endpoint, its place in line, when there is one.
func queueDeliveries(b *pgx.Batch, d *deliveryRows, now time.Time, replay bool, owner int64) {
	if len(d.id) == 0 {
		return
	}
	if !slices.ContainsFunc(d.okey, func(k *string) bool { return k != nil }) {
		b.Queue(`INSERT INTO deliveries (id, event_id, endpoint_id, partition, claimed, claimed_by, claimed_at,
				next_attempt_at, created_at, updated_at, priority, event_type)
			SELECT id, event_id, endpoint_id, partition, claimed, CASE WHEN claimed THEN $8::bigint END,
				CASE WHEN claimed THEN $6::timestamptz END, $6, $6, $6, priority, event_type
			FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::boolean[], $7::smallint[], $9::text[])
				AS u (id, event_id, endpoint_id, partition, claimed, priority, event_type)`,
			d.id, d.eventID, d.endpointID, d.partition, d.claimed, now, d.priority, owner, d.eventType)
		return
	}
	b.Queue(`WITH u AS (
			SELECT u.*, CASE WHEN $9 AND u.okey IS NOT NULL THEN (SELECT max(p.seq) FROM deliveries p
				WHERE p.event_id = u.event_id AND p.endpoint_id = u.endpoint_id AND p.okey IS NOT NULL) END AS placed
			FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::boolean[], $7::smallint[], $8::text[], $11::text[])
				WITH ORDINALITY AS u (id, event_id, endpoint_id, partition, claimed, priority, okey, event_type, ord)),
		need AS (SELECT endpoint_id, count(*) AS n FROM u WHERE okey IS NOT NULL AND placed IS NULL
			GROUP BY endpoint_id ORDER BY endpoint_id),
		taken AS (INSERT INTO endpoint_seqs AS s (endpoint_id, seq) SELECT endpoint_id, n FROM need
			ON CONFLICT (endpoint_id) DO UPDATE SET seq = s.seq + excluded.seq
			RETURNING endpoint_id, seq - (SELECT n FROM need WHERE need.endpoint_id = s.endpoint_id) AS base),
		numbered AS (SELECT u.*, row_number() OVER (PARTITION BY u.endpoint_id, u.placed IS NULL ORDER BY u.ord) AS rn FROM u)
		INSERT INTO deliveries (id, event_id, endpoint_id, partition, claimed, claimed_by, claimed_at, next_attempt_at,
			created_at, updated_at, priority, okey, seq, event_type)
		SELECT n.id, n.event_id, n.endpoint_id, n.partition, n.claimed, CASE WHEN n.claimed THEN $10::bigint END,
			CASE WHEN n.claimed THEN $6::timestamptz END, $6, $6, $6, n.priority, n.okey,
			CASE WHEN n.okey IS NULL THEN 0 WHEN n.placed IS NOT NULL THEN n.placed ELSE t.base + n.rn END, n.event_type
		FROM numbered n LEFT JOIN taken t ON t.endpoint_id = n.endpoint_id AND n.okey IS NOT NULL`,
		d.id, d.eventID, d.endpointID, d.partition, d.claimed, now, d.priority, d.okey, replay, owner, d.eventType)
}

// payloadOf returns the payload of ev as it is rebuilt from the stored event:
// with its time to the microsecond.
func payloadOf(ev *hookline.Event) []byte {
	if t := truncate(ev.CreatedAt); !t.Equal(ev.CreatedAt) || t.Location() != ev.CreatedAt.Location() {
		c := *ev
		c.CreatedAt = t
		return c.Payload()
	}
	return ev.Payload()
}

// dataArg returns the value an event's data is stored as: NULL when empty.
func dataArg(data json.RawMessage) []byte {
	if len(data) == 0 {
		return nil
	}
	return data
}

func eventNotFound(id string) error {
	return hookline.Errorf(hookline.ENOTFOUND, "event %s not found", id)
}

// FindEvent returns one event, or ENOTFOUND.
func (s *Store) FindEvent(ctx context.Context, id string) (*hookline.Event, error) {
	var ev hookline.Event
	var data []byte
	var priority int16
	err := s.pool.QueryRow(ctx, "SELECT id, tenant, type, data, created_at, deliveries, priority, ordering_key FROM events WHERE id = $1", id).
		Scan(&ev.ID, &ev.Tenant, &ev.Type, &data, &ev.CreatedAt, &ev.Deliveries, &priority, &ev.OrderingKey)
	ev.Priority = int(priority)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, eventNotFound(id)
	} else if err != nil {
		return nil, s.wrap("find event", err)
	}
	if len(data) > 0 {
		ev.Data = data
	}
	ev.CreatedAt = ev.CreatedAt.UTC()
	return &ev, nil
}

// ReplayEvent creates a new pending delivery of an event to every enabled
// endpoint that matches it now and returns their tasks, or ENOTFOUND. The
// event's delivery count is left as it was at ingest.
func (s *Store) ReplayEvent(ctx context.Context, eventID string, claim bool, now time.Time) ([]*hookline.Task, error) {
	now = truncate(now)
	var in *ingest
	var tasks []*hookline.Task
	err := s.inTx(ctx, "replay event", func(tx pgx.Tx) error {
		in = &ingest{s: s, q: tx, now: now}
		if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = on"); err != nil { // 202, as ingest
			return err
		}
		version, err := lockVersion(ctx, tx)
		if err != nil {
			return err
		}
		// FOR KEY SHARE: Prune cannot delete the event until we commit.
		var ev hookline.Event
		var data []byte
		var priority int16
		err = tx.QueryRow(ctx, "SELECT id, tenant, type, data, created_at, priority, ordering_key FROM events WHERE id = $1 FOR KEY SHARE", eventID).
			Scan(&ev.ID, &ev.Tenant, &ev.Type, &data, &ev.CreatedAt, &priority, &ev.OrderingKey)
		ev.Priority = int(priority)
		if errors.Is(err, pgx.ErrNoRows) {
			return eventNotFound(eventID)
		} else if err != nil {
			return err
		}
		ev.Data, ev.CreatedAt = data, ev.CreatedAt.UTC()
		if in.subs, err = s.subs.lookup(ctx, tx, version, []string{ev.Tenant}); err != nil {
			return err
		}
		tasks = in.fanOut(&ev, func(ep *hookline.Endpoint, _ int) bool { return claim && !ep.FIFO() }, nil)
		b := &pgx.Batch{}
		queueDeliveries(b, &in.deliveries, now, true, s.owner)
		if b.Len() == 0 {
			return nil
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, err
	}
	if in.unclaimed {
		s.notify.due()
	}
	return tasks, nil
}

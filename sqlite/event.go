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
)

// Ingest writes the events of every request and their fan-out in one
// transaction, committed with fsync before it returns (IngestEarly, with
// its finish called at once).
func (s *Store) Ingest(ctx context.Context, reqs []*hookline.IngestRequest, now time.Time) error {
	finish, err := s.IngestEarly(ctx, reqs, now)
	if finish != nil {
		finish()
	}
	return err
}

// IngestEarly writes the events of every request and their fan-out in one
// transaction, committed with fsync before it returns, and fills each
// request's Results or Err; finish makes the tasks and the store's
// bookkeeping of the deliveries (hookline.EarlyIngester). For a wide
// fan-out that is most of the work: the rows are an event's and one
// fanouts row (held.go), the tasks and the held deliveries one each.
//
// For each request, idempotency keys are checked first: against the keys
// stored, earlier requests of the same call and earlier events of the same
// request. A key used with another request hash sets the request's Err to
// ECONFLICT, and nothing of that request is written. Then each new event
// fans out to the enabled endpoints of its tenant that match its type (from
// memory), and every row of the call is written with multi-row INSERTs.
//
// An Ingest that comes while an outcome transaction holds the writer rides
// on it: its rows go in that transaction, committed with its fsync
// (ride.go), and the outcome writer, still holding the store, does the
// bookkeeping once it has answered; finish waits for it.
func (s *Store) IngestEarly(ctx context.Context, reqs []*hookline.IngestRequest, now time.Time) (finish func(), err error) {
	reset := func() {
		for _, r := range reqs {
			r.Results, r.Tasks, r.Err = nil, nil, nil
		}
	}
	reset()
	in := s.newIngest(now)
	x := &rider{write: func(ctx context.Context, tx *sql.Tx) error { return in.write(ctx, tx, reqs) },
		after: func() { in.committed(reqs) }, done: make(chan error, 1), built: make(chan struct{})}
	if s.rides.board(x) { // ride.go
		err := <-x.done
		if err == nil {
			return func() { <-x.built }, nil
		}
		reset()
		if !errors.Is(err, errNotCarried) {
			return nil, fmt.Errorf("sqlite: ingest: %w", err)
		}
		in = s.newIngest(now)
	}
	s.gate.enter()
	s.mu.Lock()
	s.gate.leave()
	if err := s.write(ctx, func(tx *sql.Tx) error { return in.write(ctx, tx, reqs) }); err != nil {
		s.mu.Unlock()
		reset()
		return nil, fmt.Errorf("sqlite: ingest: %w", err)
	}
	return func() {
		defer s.mu.Unlock()
		in.committed(reqs)
	}, nil
}

// newIngest returns the state of an Ingest call at now.
func (s *Store) newIngest(now time.Time) *ingest {
	return &ingest{s: s, now: truncate(now), keys: make(map[hookline.IdempotencyID]*hookline.IdempotencyEntry)}
}

// write plans and writes the rows of reqs in tx; the caller holds s.mu.
func (in *ingest) write(ctx context.Context, tx *sql.Tx, reqs []*hookline.IngestRequest) error {
	in.tx, in.seq, in.fanoutID = tx, in.s.seq, in.s.held.lastID
	in.held, in.fanoutArgs = in.held[:0], in.fanoutArgs[:0]
	in.planned, in.plans = in.planned[:0], in.plans[:0]
	for _, r := range reqs {
		if err := in.request(ctx, r); err != nil {
			return err
		}
	}
	return in.flush(ctx)
}

// committed makes the tasks of what the call committed and updates the
// store's memory with it; the caller holds s.mu.
func (in *ingest) committed(reqs []*hookline.IngestRequest) {
	s := in.s
	in.build()
	s.seq = in.seq
	in.keepHeld()
	var tasks []*hookline.Task
	if len(reqs) == 1 {
		tasks = reqs[0].Tasks
	} else {
		for _, r := range reqs {
			tasks = append(tasks, r.Tasks...)
		}
	}
	s.counts.ingested(tasks, in.events)
	if len(in.claimed) > 0 {
		s.claims.add(in.claimed, micros(in.now))
	}
}

// ingest is the state of one Ingest call.
type ingest struct {
	s   *Store
	tx  *sql.Tx
	now time.Time

	findKey *sql.Stmt // the transaction's copy, made on first use
	keys    map[hookline.IdempotencyID]*hookline.IdempotencyEntry
	putKeys []hookline.IdempotencyID // in the order first used

	docs               filter.Docs      // of the events, for the endpoints' filters
	events, deliveries int              // written
	seq                int64            // accepted order of the last event planned
	eventArgs          []any            // rows of insertEvents
	deliveryArgs       []any            // rows of insertDeliveries
	lastID             string           // of the deliveries
	nextIDs            string           // the next idBlock or fewer IDs, concatenated (deliveryID)
	ids                int              // of the deliveries, made so far
	planned            []planned        // the new events, in accepted order
	plans              []match          // their deliveries (planned.from, to)
	held               []*heldRow       // the deliveries held (held.go), once built
	fanoutID           int64            // of the last fanouts row planned
	fanoutArgs         []any            // rows of insertFanouts
	claimed            []*hookline.Task // the tasks of the deliveries claimed, once built
}

// planned is a new event of an Ingest call: its deliveries are the
// call's plans[from:to].
type planned struct {
	ev       *hookline.Event
	r        *hookline.IngestRequest
	seq      int64
	from, to int
	fanout   int64 // its fanouts row (0: no delivery of it is held)
}

// match is one delivery an Ingest call planned: to ce, of ID id, claimed
// (held) or not.
type match struct {
	ce     *cachedEndpoint
	id     string
	claims bool
}

// request plans the rows of one request, or sets its Err. The error it
// returns is for the transaction as a whole.
func (in *ingest) request(ctx context.Context, r *hookline.IngestRequest) error {
	results := make([]hookline.IngestResult, len(r.Events))
	dup, err := hookline.PlanIdempotency(r.Events, results, func(k hookline.IdempotencyID) (*hookline.IdempotencyEntry, error) {
		return in.lookup(ctx, k)
	})
	if hookline.ErrorCode(err) == hookline.ECONFLICT {
		r.Err = err
		return nil
	} else if err != nil {
		return err
	}
	if err := hookline.CheckFanOut(r.Events, dup, r.MaxDeliveries, in.matches); err != nil {
		r.Err = err
		return nil
	}
	for i, ev := range r.Events {
		if dup != nil && dup[i] != nil {
			continue
		}
		in.seq++
		n := in.plan(ev, in.seq, r)
		results[i] = hookline.IngestResult{ID: ev.ID, Type: ev.Type, Deliveries: n}
		in.eventArgs = append(in.eventArgs, ev.ID, ev.Tenant, ev.Type, dataArg(ev.Data),
			micros(ev.CreatedAt), int64(n), int64(hookline.ClampPriority(ev.Priority)), ev.OrderingKey, in.seq)
		in.events++
		if ev.IdempotencyKey != "" {
			k := hookline.IdempotencyID{Tenant: ev.Tenant, Key: ev.IdempotencyKey}
			in.keys[k] = &hookline.IdempotencyEntry{Hash: ev.RequestHash, Result: &results[i]}
			in.putKeys = append(in.putKeys, k)
		}
	}
	hookline.AnswerRepeats(r.Events, dup, results)
	r.Results = results
	return nil
}

// keepHeld records the deliveries the call held, once it has committed.
func (in *ingest) keepHeld() {
	in.s.held.lastID = in.fanoutID
	for _, r := range in.held {
		in.s.held.m[r.id] = r
	}
}

// matches counts the endpoints ev fans out to.
func (in *ingest) matches(ev *hookline.Event) int {
	n := 0
	for _, ce := range in.s.endpoints.subscribers(ev.Tenant) {
		if ce.matches(ev, &in.docs) {
			n++
		}
	}
	return n
}

// lookup returns the live entry of an idempotency key, from this call or the
// database; nil when the key is unused or expired.
func (in *ingest) lookup(ctx context.Context, k hookline.IdempotencyID) (*hookline.IdempotencyEntry, error) {
	if e, ok := in.keys[k]; ok {
		return e, nil
	}
	if in.findKey == nil {
		in.findKey = in.tx.StmtContext(ctx, in.s.stmts.findKey)
	}
	var e hookline.IdempotencyEntry
	var created int64
	err := in.findKey.QueryRowContext(ctx, k.Tenant, k.Key).Scan(&e.Hash, &e.EventID, &e.Deliveries, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("find idempotency key: %w", err)
	}
	if !in.now.Before(fromMicros(created).Add(hookline.IdempotencyWindow)) {
		return nil, nil // expired: the key is free, and put replaces it
	}
	in.keys[k] = &e
	return &e, nil
}

// plan plans one pending delivery of ev, accepted as seq, to each enabled
// endpoint of its tenant that matches its type, and returns how many: the
// rows of those left in the store, and one fanouts row listing those held.
// Their tasks are made once the rows are committed (build).
func (in *ingest) plan(ev *hookline.Event, seq int64, r *hookline.IngestRequest) int {
	subs := in.s.endpoints.subscribers(ev.Tenant)
	p := planned{ev: ev, r: r, seq: seq, from: len(in.plans)}
	var body []byte // of the fanouts row
	first := ""     // ID of the first delivery held
	last := 0       // in.ids at the last delivery held
	now := micros(in.now)
	priority := hookline.ClampPriority(ev.Priority) // the lanes of deliveries_due_lane
	for i, ce := range subs {
		if !ce.matches(ev, &in.docs) {
			continue
		}
		if len(in.plans) == p.from {
			// Sized for every subscriber from the first that matches: a
			// wide fan-out matches most.
			in.plans = slices.Grow(in.plans, len(subs)-i)
		}
		id := in.deliveryID()
		claims := r.Claims(ce.ep, ce.partition)
		if claims {
			step := in.ids - last
			if first == "" {
				first, step = id, 0
				body = make([]byte, 0, (len(subs)-i)*(4+len(ce.ep.ID)))
			}
			last = in.ids
			body = appendFanout(body, step, ce.partition, ce.ep.ID)
		} else {
			var okey any
			if ce.ep.FIFO() {
				okey = ev.OrderingKey
			}
			in.deliveryArgs = append(in.deliveryArgs, id, ev.ID, ce.ep.ID, int64(ce.partition), int64(0), now, now, now,
				int64(priority), seq, okey, ev.Type)
		}
		in.plans = append(in.plans, match{ce: ce, id: id, claims: claims})
	}
	p.to = len(in.plans)
	if first != "" {
		in.fanoutID++
		p.fanout = in.fanoutID
		in.fanoutArgs = append(in.fanoutArgs, p.fanout, ev.ID, first, now, body)
	}
	in.planned = append(in.planned, p)
	in.deliveries += p.to - p.from
	return p.to - p.from
}

// build makes the tasks of the deliveries planned, which share one payload
// an event, appends them to their requests' Tasks, and makes the held rows
// of those claimed. The caller holds s.mu, and the rows are committed.
func (in *ingest) build() {
	now := micros(in.now)
	for i := range in.planned {
		p := &in.planned[i]
		if p.from == p.to {
			continue
		}
		ev := p.ev
		payload := payloadOf(ev)
		created := truncate(ev.CreatedAt)
		priority := hookline.ClampPriority(ev.Priority)
		var f *fanout
		if p.fanout != 0 {
			f = &fanout{id: p.fanout}
		}
		tasks := make([]*hookline.Task, 0, p.to-p.from)
		var taskSlab []hookline.Task // allocated allocBlock at a time
		var heldSlab []heldRow
		for j, m := range in.plans[p.from:p.to] {
			left := p.to - p.from - j
			if len(taskSlab) == 0 {
				taskSlab = make([]hookline.Task, min(left, allocBlock))
			}
			t := &taskSlab[0]
			taskSlab = taskSlab[1:]
			*t = hookline.Task{
				DeliveryID:     m.id,
				EventID:        ev.ID,
				Endpoint:       m.ce.ep,
				Payload:        payload,
				EventCreatedAt: created,
				Partition:      m.ce.partition,
				Priority:       priority,
				Due:            in.now,
				OrderingKey:    ev.OrderingKey,
				Seq:            p.seq,
			}
			tasks = append(tasks, t)
			if !m.claims {
				continue
			}
			if len(heldSlab) == 0 {
				heldSlab = make([]heldRow, min(left, allocBlock))
			}
			h := &heldSlab[0]
			heldSlab = heldSlab[1:]
			*h = heldRow{id: m.id, eventID: ev.ID, endpointID: m.ce.ep.ID, eventType: ev.Type,
				partition: m.ce.partition, priority: int64(priority), seq: p.seq, at: now, fanout: f}
			f.left++
			in.held = append(in.held, h)
			in.claimed = append(in.claimed, t)
		}
		if p.r.Tasks == nil {
			p.r.Tasks = tasks
		} else {
			p.r.Tasks = append(p.r.Tasks, tasks...)
		}
	}
}

// allocBlock is how many tasks and held rows fanOut allocates at once, and
// how many delivery IDs deliveryID makes at once: a 10,000-endpoint
// fan-out is a few hundred allocations rather than 40,000. A block lives as
// long as the longest-lived of its values (a task retried in memory, a row
// held until its outcome), so it is kept small.
const allocBlock = 64

// deliveryID returns the next delivery ID of the call: NewID's first, then
// each one the previous plus one, so the IDs of one call ascend and their
// rows are appended to the indexes rather than scattered over them.
func (in *ingest) deliveryID() string {
	in.ids++
	if in.lastID == "" {
		in.lastID = hookline.NewID(hookline.DeliveryPrefix, in.now)
		return in.lastID
	}
	if in.nextIDs == "" {
		in.nextIDs = idsAfter(in.lastID, allocBlock)
	}
	n := len(in.lastID)
	in.lastID, in.nextIDs = in.nextIDs[:n], in.nextIDs[n:]
	return in.lastID
}

// idsAfter returns the n IDs that follow id (nextID), concatenated in one
// string.
func idsAfter(id string, n int) string {
	cur := []byte(id)
	var b strings.Builder
	b.Grow(n * len(id))
	for range n {
		incrementID(cur)
		b.Write(cur)
	}
	return b.String()
}

// crockford is the alphabet of IDs (hookline.NewID).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// nextID returns the ID after id: its last character incremented in the
// alphabet of IDs, with carry. The 80 random bits of an ID do not run out.
func nextID(id string) string {
	b := []byte(id)
	incrementID(b)
	return string(b)
}

// incrementID makes the ID in b the one after it, in place (nextID).
func incrementID(b []byte) {
	for i := len(b) - 1; i >= 0; i-- {
		d := strings.IndexByte(crockford, b[i])
		if d < len(crockford)-1 {
			b[i] = crockford[d+1]
			return
		}
		b[i] = crockford[0]
	}
}

// flush writes the planned rows: events first, for the foreign keys.
func (in *ingest) flush(ctx context.Context) error {
	st := in.s.stmts
	if err := st.insertEvents.exec(ctx, in.tx, in.eventArgs); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	if err := st.insertDeliveries.exec(ctx, in.tx, in.deliveryArgs); err != nil {
		return fmt.Errorf("insert deliveries: %w", err)
	}
	if err := st.insertFanouts.exec(ctx, in.tx, in.fanoutArgs); err != nil {
		return fmt.Errorf("insert fanouts: %w", err)
	}
	if len(in.putKeys) == 0 {
		return nil
	}
	put := in.tx.StmtContext(ctx, st.putKey)
	for _, k := range in.putKeys {
		e := in.keys[k]
		if _, err := put.ExecContext(ctx, k.Tenant, k.Key, e.Hash, e.Result.ID, int64(e.Result.Deliveries), micros(in.now)); err != nil {
			return fmt.Errorf("put idempotency key: %w", err)
		}
	}
	return nil
}

// payloadOf returns the payload of ev as it is rebuilt from the stored event:
// with its time to the microsecond.
func payloadOf(ev *hookline.Event) []byte {
	if t := truncate(ev.CreatedAt); !t.Equal(ev.CreatedAt) {
		c := *ev
		c.CreatedAt = t
		return c.Payload()
	}
	return ev.Payload()
}

// dataArg returns the value an event's data is stored as: NULL when empty.
func dataArg(data json.RawMessage) any {
	if len(data) == 0 {
		return nil
	}
	return []byte(data)
}

// FindEvent returns one event, or ENOTFOUND.
func (s *Store) FindEvent(ctx context.Context, id string) (*hookline.Event, error) {
	var ev hookline.Event
	var data []byte
	var created int64
	err := s.rdb.QueryRowContext(ctx, "SELECT id, tenant, type, data, created_at, deliveries, priority, ordering_key FROM events WHERE id = ?", id).
		Scan(&ev.ID, &ev.Tenant, &ev.Type, &data, &created, &ev.Deliveries, &ev.Priority, &ev.OrderingKey)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, eventNotFound(id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find event: %w", err)
	}
	if len(data) > 0 {
		ev.Data = data
	}
	ev.CreatedAt = fromMicros(created)
	return &ev, nil
}

func eventNotFound(id string) error {
	return hookline.Errorf(hookline.ENOTFOUND, "event %s not found", id)
}

// ReplayEvent creates a new pending delivery of an event to every enabled
// endpoint that matches it now and returns their tasks, or ENOTFOUND. The
// event's delivery count is left as it was at ingest.
func (s *Store) ReplayEvent(ctx context.Context, eventID string, claim bool, now time.Time) ([]*hookline.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := ingest{s: s, now: truncate(now)}
	r := &hookline.IngestRequest{Claim: claim}
	err := s.write(ctx, func(tx *sql.Tx) error {
		in.tx, in.fanoutID = tx, s.held.lastID
		in.held, in.fanoutArgs = in.held[:0], in.fanoutArgs[:0]
		var ev hookline.Event
		var data []byte
		var created, seq int64
		err := tx.QueryRowContext(ctx, "SELECT id, tenant, type, data, created_at, priority, ordering_key, seq FROM events WHERE id = ?", eventID).
			Scan(&ev.ID, &ev.Tenant, &ev.Type, &data, &created, &ev.Priority, &ev.OrderingKey, &seq)
		if errors.Is(err, sql.ErrNoRows) {
			return eventNotFound(eventID)
		} else if err != nil {
			return err
		}
		ev.Data, ev.CreatedAt = data, fromMicros(created)
		// A replay takes its event's place in line: its accepted order.
		in.plan(&ev, seq, r)
		if err := s.stmts.insertDeliveries.exec(ctx, tx, in.deliveryArgs); err != nil {
			return err
		}
		return s.stmts.insertFanouts.exec(ctx, tx, in.fanoutArgs)
	})
	if hookline.ErrorCode(err) == hookline.ENOTFOUND {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: replay event: %w", err)
	}
	in.build()
	in.keepHeld()
	s.counts.ingested(r.Tasks, 0)
	s.claims.add(in.claimed, micros(in.now))
	return r.Tasks, nil
}

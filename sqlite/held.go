package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/hookline/hookline"
)

// Held deliveries.
//
// Ingest hands most deliveries straight to the engine's memory (claimed),
// and most of those succeed within milliseconds. Writing each one's row at
// ingest, with its five index entries, and then updating it at its outcome
// made fan-out cost O(deliveries) writes before the 202. Instead, a claimed
// delivery is held: its event gets one row in fanouts, which lists the
// deliveries of the event that were held (their IDs and endpoints), and the
// delivery's own row is written later, in the transaction that first needs
// it: its outcome's (RecordOutcomes), an unclaim, or a flush.
//
// The rest of the store never sees a held delivery: every method that reads
// or changes deliveries, other than Ingest, RecordOutcomes, ClaimDue and
// DueEndpoints (which only see unclaimed rows, and a held delivery is
// claimed), first writes the rows of every held delivery (flush), so that
// the table is what it would have been had the rows been written at ingest.
// A fanouts row is deleted in the transaction that writes the last row it
// lists, so after a crash, Open writes the rows its fanouts rows still list
// (those not written yet) as ingest would have: claimed, due at their
// ingest. Like every claim an earlier run left, they are freed by
// ResetClaims when the engine starts, or by the rescuer: the deliveries of
// an accepted event are never lost.
//
// Held deliveries are claimed deliveries, which the engine's memory queue
// bounds, so the set and the work of a flush are bounded too.

// heldRow is a delivery whose row is not written yet: the values of the row
// ingest would have written.
type heldRow struct {
	id, eventID, endpointID, eventType string
	partition                          int
	priority, seq, at                  int64 // at: the ingest time (µs), its due, created and updated time
	fanout                             *fanout
}

// fanout is a fanouts row and how many of the rows it lists are unwritten.
type fanout struct {
	id   int64
	left int
}

// held are the held deliveries of the store, under its mu.
type held struct {
	m      map[string]*heldRow
	lastID int64 // of the fanouts rows
}

// fanoutBody encodes the held deliveries of one event, in ID order: the
// first ID is the row's first_id; then for each delivery, the number of
// steps (nextID) from the previous ID (0 for the first), its partition and
// its endpoint ID (appendFanout).
func fanoutBody(rows []*heldRow, steps []int) []byte {
	var b []byte
	for i, r := range rows {
		b = appendFanout(b, steps[i], r.partition, r.endpointID)
	}
	return b
}

// appendFanout appends one held delivery to the body of a fanouts row
// (fanoutBody).
func appendFanout(b []byte, steps, partition int, endpointID string) []byte {
	b = binary.AppendUvarint(b, uint64(steps))
	b = binary.AppendUvarint(b, uint64(partition))
	b = binary.AppendUvarint(b, uint64(len(endpointID)))
	return append(b, endpointID...)
}

// errBadFanout is the error of a fanouts row that does not decode.
var errBadFanout = errors.New("malformed fanouts row")

// decodeFanout returns the deliveries a fanouts row lists.
func decodeFanout(firstID string, body []byte, row heldRow) ([]*heldRow, error) {
	var out []*heldRow
	id := firstID
	for len(body) > 0 {
		var v [3]uint64
		for i := range v {
			x, n := binary.Uvarint(body)
			if n <= 0 {
				return nil, errBadFanout
			}
			v[i], body = x, body[n:]
		}
		steps, partition, size := v[0], v[1], v[2]
		if size > uint64(len(body)) || partition >= hookline.Partitions || steps > math.MaxInt32 {
			return nil, errBadFanout
		}
		for range steps {
			id = nextID(id)
		}
		r := row
		r.id, r.partition, r.endpointID = id, int(partition), string(body[:size])
		body = body[size:]
		out = append(out, &r)
	}
	return out, nil
}

// writeHeld writes the rows of the held deliveries given, claimed, in tx,
// and deletes the fanouts rows that are left with none unwritten. It
// changes nothing in memory: once tx commits, the caller calls wrote. A row
// that exists already is left as it is (a row written by a transaction
// whose commit was reported failed after it succeeded).
func (s *Store) writeHeld(ctx context.Context, tx *sql.Tx, rows []*heldRow) error {
	if len(rows) == 0 {
		return nil
	}
	if err := s.stmts.writeHeld.exec(ctx, tx, heldArgs(rows)); err != nil {
		return fmt.Errorf("write held deliveries: %w", err)
	}
	return deleteDone(ctx, tx, rows)
}

// heldArgs returns the values of the rows ingest would have written for
// rows: claimed, pending, due at their ingest.
func heldArgs(rows []*heldRow) []any {
	args := make([]any, 0, deliveryColumns*len(rows))
	for _, r := range rows {
		args = append(args, r.id, r.eventID, r.endpointID, int64(r.partition), int64(1), r.at, r.at, r.at,
			r.priority, r.seq, nil, r.eventType)
	}
	return args
}

// deleteDone deletes, in tx, the fanouts rows of which every row left
// unwritten is among the rows being written.
func deleteDone(ctx context.Context, tx *sql.Tx, rows []*heldRow) error {
	written := make(map[*fanout]int)
	for _, r := range rows {
		written[r.fanout]++
	}
	var done []int64
	for f, n := range written {
		if f.left == n {
			done = append(done, f.id)
		}
	}
	if len(done) > 0 {
		if _, err := tx.ExecContext(ctx, "DELETE FROM fanouts WHERE id IN (SELECT value FROM json_each(?))",
			jsonList(done)); err != nil {
			return fmt.Errorf("delete fanouts: %w", err)
		}
	}
	return nil
}

// settling is the rows of held deliveries that one RecordOutcomes writes
// with their outcomes' values: one INSERT each, where a delivery written at
// ingest costs an INSERT there and an UPDATE here.
type settling struct {
	by      map[string]*heldRow // the held deliveries of the batch
	rows    []*heldRow          // those with an outcome written, in args order
	index   map[string]int      // delivery ID → its row in rows and args
	args    []any               // settledColumns values a row
	written int                 // rows inserted so far (writeRows)
}

// settledColumns are the columns of insertSettled.
const settledColumns = 18

// reset starts over with the deliveries of a batch, ids, held in h. The
// maps and the args are sized for the batch at once: in the common case
// (the first outcome of deliveries claimed at ingest) every delivery of
// the batch is held.
func (st *settling) reset(h *held, ids []string) {
	st.by, st.index, st.rows, st.args, st.written = nil, nil, st.rows[:0], st.args[:0], 0
	n := 0
	for _, id := range ids {
		if h.m[id] != nil {
			n++
		}
	}
	if n == 0 {
		return
	}
	st.by, st.index = make(map[string]*heldRow, n), make(map[string]int, n)
	if cap(st.rows) < n {
		st.rows = make([]*heldRow, 0, n)
	}
	if cap(st.args) < n*settledColumns {
		st.args = make([]any, 0, n*settledColumns)
	}
	for _, id := range ids {
		if r := h.m[id]; r != nil {
			st.by[id] = r
		}
	}
}

// held reports whether a delivery of the batch is held.
func (st *settling) held(id string) bool { return st.by[id] != nil }

// unwritten returns those of ids that are not held: the rows to read.
func (st *settling) unwritten(ids []string) []string {
	if len(st.by) == 0 {
		return ids
	}
	out := make([]string, 0, len(ids)-len(st.by))
	for _, id := range ids {
		if st.by[id] == nil {
			out = append(out, id)
		}
	}
	return out
}

// add plans the row of a held delivery with an outcome's values, as
// queryRecordOutcome would set them; a second outcome of the same delivery
// in the batch changes the row planned. It returns false, and plans
// nothing, when the delivery's row was inserted already (writeRows): the
// caller updates it as any written row.
func (st *settling) add(id string, status, attempt, code int64, errText string, next any, now int64, batch any) bool {
	if i, ok := st.index[id]; ok {
		if i < st.written {
			return false
		}
		a := st.args[i*settledColumns : (i+1)*settledColumns]
		a[5], a[7], a[12], a[13], a[14], a[15], a[17] = next, now, status, max(a[13].(int64), attempt), code, errText, batch
		if status == statusDelivered {
			a[16] = now
		}
		return true
	}
	r := st.by[id]
	var delivered any
	if status == statusDelivered {
		delivered = now
	}
	st.index[id] = len(st.rows)
	st.rows = append(st.rows, r)
	st.args = append(st.args, r.id, r.eventID, r.endpointID, int64(r.partition), int64(0), next, r.at, now,
		r.priority, r.seq, nil, r.eventType, status, attempt, code, errText, delivered, batch)
	return true
}

// writeRows inserts the rows planned since the last call.
func (st *settling) writeRows(ctx context.Context, tx *sql.Tx, insert *batchInsert) error {
	if st.written == len(st.rows) {
		return nil
	}
	if err := insert.exec(ctx, tx, st.args[st.written*settledColumns:]); err != nil {
		return fmt.Errorf("write held deliveries: %w", err)
	}
	st.written = len(st.rows)
	return nil
}

// writeSettled writes the rows st planned and not yet written, and deletes
// the fanouts rows that all of st's rows complete. A row that exists
// already is left as it is (written by a call whose commit was reported
// failed after it succeeded).
func (s *Store) writeSettled(ctx context.Context, tx *sql.Tx, st *settling) error {
	if len(st.rows) == 0 {
		return nil
	}
	if err := st.writeRows(ctx, tx, s.stmts.insertSettled); err != nil {
		return err
	}
	return deleteDone(ctx, tx, st.rows)
}

// wrote forgets the held deliveries whose rows a committed writeHeld wrote.
func (h *held) wrote(rows []*heldRow) {
	for _, r := range rows {
		if _, ok := h.m[r.id]; ok {
			delete(h.m, r.id)
			r.fanout.left--
		}
	}
}

// of returns the held deliveries among ids.
func (h *held) of(ids []string) []*heldRow {
	if len(h.m) == 0 {
		return nil
	}
	var out []*heldRow
	var seen map[string]bool // an ID named twice is written once, and counted once by writeHeld
	for _, id := range ids {
		if r, ok := h.m[id]; ok && !seen[id] {
			if seen == nil {
				seen = make(map[string]bool)
			}
			seen[id] = true
			out = append(out, r)
		}
	}
	return out
}

// flushHeld writes the rows of every held delivery. The caller holds s.mu.
func (s *Store) flushHeld(ctx context.Context) error { return s.flushHeldBefore(ctx, math.MaxInt64) }

// flushHeldBefore writes the rows of the held deliveries claimed before
// before (µs): those FindStaleClaims may find. The caller holds s.mu.
func (s *Store) flushHeldBefore(ctx context.Context, before int64) error {
	var rows []*heldRow
	for id, r := range s.held.m {
		if s.claims.m[id].at < before {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if err := s.write(ctx, func(tx *sql.Tx) error { return s.writeHeld(ctx, tx, rows) }); err != nil {
		return fmt.Errorf("flush held deliveries: %w", err)
	}
	s.held.wrote(rows)
	return nil
}

// settle writes the rows of every held delivery, for a method that reads
// deliveries without holding s.mu.
func (s *Store) settle(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushHeld(ctx)
}

// recoverHeld writes, claimed as ingest would have, the rows that the
// fanouts rows left by an earlier run list and that were not written, and deletes those fanouts
// rows; then it sets where the IDs of new fanouts rows start. Open calls it
// before it counts the deliveries.
func (s *Store) recoverHeld(ctx context.Context) error {
	s.held.m = make(map[string]*heldRow)
	const page = 256 // fanouts rows a transaction
	for {
		var n int
		err := s.write(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `SELECT f.id, f.first_id, f.created_at, f.body, e.id, e.type, e.priority, e.seq
				FROM fanouts f JOIN events e ON e.id = f.event_id ORDER BY f.id LIMIT ?`, page)
			if err != nil {
				return err
			}
			var ids []int64
			var lost []*heldRow
			for rows.Next() {
				var id int64
				var first string
				var body []byte
				var r heldRow
				if err := rows.Scan(&id, &first, &r.at, &body, &r.eventID, &r.eventType, &r.priority, &r.seq); err != nil {
					rows.Close()
					return err
				}
				ds, err := decodeFanout(first, body, r)
				if err != nil {
					rows.Close()
					return fmt.Errorf("fanouts row %d: %w", id, err)
				}
				ids = append(ids, id)
				lost = append(lost, ds...)
			}
			if err := rows.Close(); err != nil {
				return err
			}
			if err := rows.Err(); err != nil {
				return err
			}
			n = len(ids)
			if n == 0 {
				return nil
			}
			if err := s.stmts.writeHeld.exec(ctx, tx, heldArgs(lost)); err != nil {
				return fmt.Errorf("write held deliveries: %w", err)
			}
			_, err = tx.ExecContext(ctx, "DELETE FROM fanouts WHERE id IN (SELECT value FROM json_each(?))", jsonList(ids))
			return err
		})
		if err != nil {
			return fmt.Errorf("recover held deliveries: %w", err)
		}
		if n < page {
			break
		}
	}
	// Fanouts rows whose event is gone (none should be) list nothing to write.
	if _, err := s.wdb.ExecContext(ctx, "DELETE FROM fanouts WHERE event_id NOT IN (SELECT id FROM events)"); err != nil {
		return fmt.Errorf("recover held deliveries: %w", err)
	}
	return s.wdb.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM fanouts").Scan(&s.held.lastID)
}

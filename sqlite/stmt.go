package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

// maxBatchRows is the most rows one multi-row INSERT writes.
const maxBatchRows = 256

// statements are the hot statements of the write connection, prepared once
// at Open. Colder ones are run as plain queries.
type statements struct {
	insertEvents     *batchInsert
	insertDeliveries *batchInsert
	insertAttempts   *batchInsert
	insertFanouts    *batchInsert
	writeHeld        *batchInsert
	insertSettled    *batchInsert

	findKey *sql.Stmt
	putKey  *sql.Stmt

	claimDue      *sql.Stmt
	claimBatches  *sql.Stmt
	claimIDs      *sql.Stmt
	firstKey      *sql.Stmt
	nextKey       *sql.Stmt
	keyLine       *sql.Stmt
	nextDue       *sql.Stmt
	eventsByID    *sql.Stmt
	statusesByID  *sql.Stmt
	recordOutcome *sql.Stmt
	unclaim       *sql.Stmt

	all []*sql.Stmt
}

// deliveryColumns are the columns a new delivery row is inserted with; the
// others take their defaults (pending, no attempts).
const deliveryColumns = 12

// The multi-row INSERTs are OR ROLLBACK: a constraint violation ends the
// whole transaction, which the store would roll back anyway, so SQLite keeps
// no statement journal for them (see schema.sql).
const (
	queryInsertEvents = `INSERT OR ROLLBACK INTO events (id, tenant, type, data, created_at, deliveries,
	priority, ordering_key, seq)`

	queryInsertDeliveries = `INSERT OR ROLLBACK INTO deliveries
	(id, event_id, endpoint_id, partition, claimed, next_attempt_at, created_at, updated_at, priority, seq, okey,
	event_type)`

	// queryWriteHeld writes the rows of held deliveries (held.go); one
	// written already is kept.
	queryWriteHeld = `INSERT OR IGNORE INTO deliveries
	(id, event_id, endpoint_id, partition, claimed, next_attempt_at, created_at, updated_at, priority, seq, okey,
	event_type)`

	// queryInsertSettled writes the rows of held deliveries with their
	// outcomes (settling); one written already is kept.
	queryInsertSettled = `INSERT OR IGNORE INTO deliveries
	(id, event_id, endpoint_id, partition, claimed, next_attempt_at, created_at, updated_at, priority, seq, okey,
	event_type, status, attempts, last_status_code, last_error, delivered_at, batch_id)`

	queryInsertFanouts = `INSERT OR ROLLBACK INTO fanouts (id, event_id, first_id, created_at, body)`

	// Attempts already written are ignored, so that a batch whose commit
	// was reported failed after it succeeded can be written again.
	queryInsertAttempts = `INSERT OR ROLLBACK INTO attempts
	(delivery_id, attempt, started_at, duration_us, status_code, error, response_body)`
	tailInsertAttempts = ` ON CONFLICT (delivery_id, attempt) DO NOTHING`

	queryFindKey = `SELECT request_hash, event_id, deliveries, created_at
	FROM idempotency_keys WHERE tenant = ? AND key = ?`

	queryPutKey = `INSERT INTO idempotency_keys
	(tenant, key, request_hash, event_id, deliveries, created_at) VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (tenant, key) DO UPDATE SET request_hash = excluded.request_hash,
	event_id = excluded.event_id, deliveries = excluded.deliveries, created_at = excluded.created_at`

	// queryClaimBatches claims the rest of the batches named: a batch is
	// retried whole.
	queryClaimBatches = `UPDATE deliveries SET claimed = 1
	WHERE batch_id IN (SELECT value FROM json_each(?1)) AND status = 0 AND claimed = 0
	RETURNING id, event_id, partition, attempts, schedule_offset, next_attempt_at, priority, seq, okey, batch_id`

	// A fifo endpoint's lines: the first key with pending deliveries after
	// a key (the loose scan of deliveries_fifo), and a key's first
	// deliveries in accepted order.
	queryFirstKey = `SELECT okey FROM deliveries INDEXED BY deliveries_fifo
	WHERE endpoint_id = ?1 AND status = 0 AND okey IS NOT NULL ORDER BY okey, seq LIMIT 1`
	queryNextKey = `SELECT okey FROM deliveries INDEXED BY deliveries_fifo
	WHERE endpoint_id = ?1 AND status = 0 AND okey > ?2 ORDER BY okey, seq LIMIT 1`
	queryKeyLine = `SELECT id, claimed, next_attempt_at, batch_id FROM deliveries INDEXED BY deliveries_fifo
	WHERE endpoint_id = ?1 AND status = 0 AND okey = ?2 ORDER BY seq LIMIT ?3`
	queryClaimIDs = `UPDATE deliveries SET claimed = 1
	WHERE id IN (SELECT value FROM json_each(?1)) AND status = 0 AND claimed = 0
	RETURNING id, event_id, partition, attempts, schedule_offset, next_attempt_at, priority, seq, okey, batch_id`

	queryEventsByID = `SELECT id, type, data, created_at FROM events
	WHERE id IN (SELECT value FROM json_each(?))`

	queryStatusesByID = `SELECT id, endpoint_id, status, claimed, attempts FROM deliveries
	WHERE id IN (SELECT value FROM json_each(?))`

	queryRecordOutcome = `UPDATE deliveries SET status = ?1, attempts = max(attempts, ?2),
	last_status_code = ?3, last_error = ?4, next_attempt_at = ?5, claimed = 0, updated_at = ?6,
	delivered_at = CASE WHEN ?1 = 1 THEN ?6 ELSE delivered_at END, batch_id = ?8
	WHERE id = ?7`

	queryUnclaim = `UPDATE deliveries SET claimed = 0
	WHERE claimed = 1 AND id IN (SELECT value FROM json_each(?))`
)

func prepare(ctx context.Context, db *sql.DB) (_ *statements, err error) {
	st := &statements{}
	defer func() {
		if err != nil {
			_ = st.close()
		}
	}()
	p := func(query string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var stmt *sql.Stmt
		if stmt, err = db.PrepareContext(ctx, query); err != nil {
			err = fmt.Errorf("prepare %q: %w", strings.Join(strings.Fields(query), " "), err)
			return nil
		}
		st.all = append(st.all, stmt)
		return stmt
	}
	batch := func(head, tail string, cols int) *batchInsert {
		b := &batchInsert{cols: cols}
		row := "(" + strings.Repeat("?, ", cols-1) + "?)"
		for n := 1; n <= maxBatchRows && err == nil; n <<= 1 {
			b.stmts = append(b.stmts, p(head+" VALUES "+strings.Repeat(row+", ", n-1)+row+tail))
		}
		return b
	}
	st.insertEvents = batch(queryInsertEvents, "", 9)
	st.insertDeliveries = batch(queryInsertDeliveries, "", deliveryColumns)
	st.insertAttempts = batch(queryInsertAttempts, tailInsertAttempts, 7)
	st.insertFanouts = batch(queryInsertFanouts, "", 5)
	st.writeHeld = batch(queryWriteHeld, "", deliveryColumns)
	st.insertSettled = batch(queryInsertSettled, "", settledColumns)
	st.findKey = p(queryFindKey)
	st.putKey = p(queryPutKey)
	st.claimDue = p(queryClaimDue)
	st.claimBatches = p(queryClaimBatches)
	st.claimIDs = p(queryClaimIDs)
	st.firstKey = p(queryFirstKey)
	st.nextKey = p(queryNextKey)
	st.keyLine = p(queryKeyLine)
	st.nextDue = p(queryNextDue)
	st.eventsByID = p(queryEventsByID)
	st.statusesByID = p(queryStatusesByID)
	st.recordOutcome = p(queryRecordOutcome)
	st.unclaim = p(queryUnclaim)
	return st, err
}

func (st *statements) close() error {
	var errs []error
	for _, s := range st.all {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// batchInsert is a multi-row INSERT prepared for 1, 2, 4, … maxBatchRows
// rows, so that a batch of any size is written by a few prepared statements:
// 10,000 rows are 39 statements of 256 rows and one of 16.
type batchInsert struct {
	cols  int
	stmts []*sql.Stmt // stmts[i] writes 1<<i rows
}

// exec inserts the rows whose values are args, cols values a row.
func (b *batchInsert) exec(ctx context.Context, tx *sql.Tx, args []any) error {
	for len(args) > 0 {
		i := min(bits.Len(uint(len(args)/b.cols))-1, len(b.stmts)-1)
		n := b.cols << i
		if _, err := tx.StmtContext(ctx, b.stmts[i]).ExecContext(ctx, args[:n]...); err != nil {
			return err
		}
		args = args[n:]
	}
	return nil
}

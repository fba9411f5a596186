package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookline/hookline"
)

// Prune deletes at most limit of the oldest events created before `before`
// that have no pending delivery, with their deliveries and attempts, and
// returns how many events it deleted. It also deletes idempotency keys that
// had expired by `before` (created before before − IdempotencyWindow); an
// expired key left behind is harmless, since ingest treats it as free.
//
// It works in transactions of at most deleteBatch deliveries. An event with
// more deliveries than that loses them over several transactions and is
// deleted with the last; should one of them become pending in between (a
// replay or retry), the event and what is left of it are kept. Nodes pruning
// at once skip each other's events (FOR UPDATE SKIP LOCKED).
func (s *Store) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	before = truncate(before)
	deleted := 0
	for deleted < limit {
		var n int
		var done bool
		err := s.inTx(ctx, "prune", func(tx pgx.Tx) error {
			var err error
			n, done, err = pruneEvents(ctx, tx, before, limit-deleted)
			return err
		})
		deleted += n
		if err != nil {
			return deleted, err
		}
		if done {
			break
		}
	}
	for {
		var n int64
		err := s.retry(ctx, "prune", func() error {
			tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE ctid IN (
				SELECT ctid FROM idempotency_keys WHERE created_at < $1 LIMIT $2)`,
				before.Add(-hookline.IdempotencyWindow), deleteBatch)
			n = tag.RowsAffected()
			return err
		})
		if err != nil {
			return deleted, err
		}
		if n < deleteBatch {
			return deleted, nil
		}
	}
}

// pruneEvents deletes up to deleteBatch deliveries (not pending) of up to
// limit prunable events, oldest first, and the events it emptied. done
// reports that no prunable event is left.
func pruneEvents(ctx context.Context, tx pgx.Tx, before time.Time, limit int) (events int, done bool, err error) {
	rows, err := tx.Query(ctx, `SELECT id FROM events e
		WHERE created_at < $1 AND NOT EXISTS (
			SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = 0)
		ORDER BY created_at LIMIT $2
		FOR UPDATE SKIP LOCKED`, before, limit)
	if err != nil {
		return 0, false, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(ids) == 0 {
		return 0, true, err
	}
	// A delivery made pending since the SELECT (a retry that committed while
	// we waited for its row) is kept, and so is its event.
	n, err := deleteDeliveries(ctx, tx, "event_id = ANY($1) AND status <> 0", ids)
	if err != nil {
		return 0, false, err
	}
	tag, err := tx.Exec(ctx, `DELETE FROM events e WHERE id = ANY($1)
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)`, ids)
	if err != nil {
		return 0, false, err
	}
	// When the budget ran out, some events may keep deliveries: the next
	// transaction goes on with them.
	return int(tag.RowsAffected()), len(ids) < limit && n < deleteBatch, nil
}

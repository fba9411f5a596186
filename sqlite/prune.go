package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hookline/hookline"
)

// pruneRows bounds the deliveries one prune transaction deletes (their
// attempts go with them), so that pruning never holds the writer for long:
// ingest gets the writer between transactions.
const pruneRows = 1000

// Prune deletes at most limit of the oldest events created before `before`
// that have no pending delivery, with their deliveries and attempts, and
// returns how many events it deleted. It also deletes idempotency keys that
// had expired by `before` (created before before − IdempotencyWindow); an
// expired key left behind is harmless, since ingest treats it as free.
//
// It works in transactions of at most pruneRows deliveries. An event with
// more deliveries than that loses them over several transactions and is
// deleted with the last; should one of them become pending in between (a
// replay or retry), the event and what is left of it are kept.
func (s *Store) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	deleted := 0
	for deleted < limit {
		n, done, err := s.pruneEvents(ctx, micros(before), limit-deleted)
		deleted += n
		if err != nil {
			return deleted, fmt.Errorf("sqlite: prune: %w", err)
		}
		if done {
			break
		}
	}
	for {
		n, err := s.pruneKeys(ctx, micros(before.Add(-hookline.IdempotencyWindow)))
		if err != nil {
			return deleted, fmt.Errorf("sqlite: prune: %w", err)
		}
		if n < pruneRows {
			break
		}
	}
	return deleted, nil
}

// pruneEvents deletes up to pruneRows deliveries of prunable events, oldest
// first, and the events it emptied, up to limit, in one transaction. done
// reports that no prunable event is left.
func (s *Store) pruneEvents(ctx context.Context, before int64, limit int) (events int, done bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flushHeld(ctx); err != nil {
		return 0, false, err
	}
	var d countsDelta
	err = s.write(ctx, func(tx *sql.Tx) error {
		events, done, d = 0, false, countsDelta{}
		rows, err := tx.QueryContext(ctx, `SELECT id FROM events e INDEXED BY events_created
			WHERE created_at < ? AND NOT EXISTS (
				SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = 0)
			ORDER BY created_at LIMIT ?`, before, limit)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		done = len(ids) < limit
		budget := pruneRows
		for _, id := range ids {
			// Deleting a delivery deletes its attempts (ON DELETE CASCADE).
			rows, err := tx.QueryContext(ctx, `DELETE FROM deliveries WHERE id IN (
				SELECT id FROM deliveries WHERE event_id = ? LIMIT ?) RETURNING endpoint_id, status`, id, budget)
			if err != nil {
				return err
			}
			n := 0
			for rows.Next() {
				var endpointID string
				var v int64
				if err := rows.Scan(&endpointID, &v); err != nil {
					rows.Close()
					return err
				}
				d.add(endpointID, v, -1)
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if budget -= n; budget <= 0 {
				done = false // this event may have more; the next transaction goes on
				break
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM events WHERE id = ?", id); err != nil {
				return err
			}
			events++
		}
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	d.total.Events = -int64(events)
	s.counts.apply(&d)
	return events, done, nil
}

// pruneKeys deletes up to pruneRows idempotency keys created before before.
func (s *Store) pruneKeys(ctx context.Context, before int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE (tenant, key) IN (
			SELECT tenant, key FROM idempotency_keys WHERE created_at < ? LIMIT ?)`, before, pruneRows)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

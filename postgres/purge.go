package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookline/hookline"
)

// PurgeDeleted deletes at most limit deliveries of deleted endpoints of the
// given partitions (nil means all), with their attempts, one transaction
// per endpoint; then the rows (with their fifo sequence) of those with no
// delivery left that were deleted before `before`. It returns how many
// deliveries it deleted.
//
// Its transactions touch neither endpoints_version nor any endpoint that
// fan-out reads, so ingest never waits for them. Deliveries that another
// transaction holds (an outcome being written) are skipped, and deleted by
// a later call.
func (s *Store) PurgeDeleted(ctx context.Context, partitions []int, before time.Time, limit int) (int, error) {
	if limit <= 0 || (partitions != nil && len(partitions) == 0) {
		return 0, nil
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
	rows, err := s.pool.Query(ctx, `SELECT id, deleted_at FROM endpoints WHERE deleted_at IS NOT NULL ORDER BY deleted_at`)
	if err != nil {
		return 0, s.wrap("purge deleted endpoints", err)
	}
	type deleted struct {
		id string
		at time.Time
	}
	var eps []deleted
	var d deleted
	if _, err := pgx.ForEachRow(rows, []any{&d.id, &d.at}, func() error {
		if mask == nil || mask[hookline.PartitionOf(d.id)] {
			eps = append(eps, d)
		}
		return nil
	}); err != nil {
		return 0, s.wrap("purge deleted endpoints", err)
	}
	total := 0
	for _, d := range eps {
		if total >= limit {
			break
		}
		want := limit - total
		var n int
		err := s.inTx(ctx, "purge deleted endpoints", func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `DELETE FROM deliveries WHERE id IN (
				SELECT id FROM deliveries WHERE endpoint_id = $1 LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING id`, d.id, want)
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil || len(ids) == 0 {
				n = 0
				return err
			}
			n = len(ids)
			// A statement of its own, so that its snapshot sees the attempts
			// of an outcome that committed just before the rows were locked.
			_, err = tx.Exec(ctx, "DELETE FROM attempts WHERE delivery_id = ANY($1)", ids)
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < want && d.at.Before(before) {
			err := s.inTx(ctx, "purge deleted endpoints", func(tx pgx.Tx) error {
				tag, err := tx.Exec(ctx, `DELETE FROM endpoints WHERE id = $1 AND deleted_at IS NOT NULL
					AND NOT EXISTS (SELECT 1 FROM deliveries WHERE endpoint_id = $1)`, d.id)
				if err != nil || tag.RowsAffected() == 0 {
					return err
				}
				b := &pgx.Batch{}
				b.Queue("DELETE FROM endpoint_seqs WHERE endpoint_id = $1", d.id)
				b.Queue("DELETE FROM endpoint_health WHERE endpoint_id = $1", d.id)
				return tx.SendBatch(ctx, b).Close()
			})
			if err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hookline/hookline"
)

// deletedEndpoint is an endpoint DeleteEndpoint deleted, whose row is left.
type deletedEndpoint struct {
	id        string
	deletedAt int64
}

// PurgeDeleted deletes at most limit deliveries of deleted endpoints of the
// given partitions (nil means all), with their attempts, one transaction
// per endpoint, so that ingest waits for the writer no longer than one such
// transaction takes; then the rows of those with no delivery left that were
// deleted before `before`. It returns how many deliveries it deleted.
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
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, deleted_at FROM endpoints INDEXED BY endpoints_deleted
		WHERE deleted_at IS NOT NULL ORDER BY deleted_at`)
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge deleted endpoints: %w", err)
	}
	var eps []deletedEndpoint
	for rows.Next() {
		var d deletedEndpoint
		if err := rows.Scan(&d.id, &d.deletedAt); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlite: purge deleted endpoints: %w", err)
		}
		if mask == nil || mask[hookline.PartitionOf(d.id)] {
			eps = append(eps, d)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sqlite: purge deleted endpoints: %w", err)
	}
	total := 0
	for _, d := range eps {
		if total >= limit {
			break
		}
		want := limit - total
		n, err := s.purgeDeliveries(ctx, d.id, want)
		total += n
		if err != nil {
			return total, fmt.Errorf("sqlite: purge deleted endpoints: %w", err)
		}
		if n < want && d.deletedAt < micros(before) {
			if err := s.dropEndpoint(ctx, d.id); err != nil {
				return total, fmt.Errorf("sqlite: purge deleted endpoints: %w", err)
			}
		}
	}
	return total, nil
}

// purgeDeliveries deletes up to limit deliveries of a deleted endpoint, and
// their attempts (by the deliveries_cascade trigger), in one transaction.
func (s *Store) purgeDeliveries(ctx context.Context, endpointID string, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flushHeld(ctx); err != nil {
		return 0, err
	}
	var d countsDelta
	n := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		d, n = countsDelta{}, 0
		rows, err := tx.QueryContext(ctx, `DELETE FROM deliveries WHERE id IN (
			SELECT id FROM deliveries WHERE endpoint_id = ? LIMIT ?) RETURNING status`, endpointID, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var v int64
			if err := rows.Scan(&v); err != nil {
				return err
			}
			d.add(endpointID, v, -1)
			n++
		}
		return rows.Err()
	})
	if err != nil {
		return 0, err
	}
	s.counts.apply(&d)
	return n, nil
}

// dropEndpoint deletes the row of a deleted endpoint that has no delivery
// left.
func (s *Store) dropEndpoint(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flushHeld(ctx); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM endpoints WHERE id = ? AND deleted_at IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM deliveries WHERE endpoint_id = ?)`, id, id)
		return err
	})
}

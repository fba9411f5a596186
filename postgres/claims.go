package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookline/hookline"
)

// A claim names its holder (claimed_by: a number each store takes from the
// sequence claim_owners when it opens, one per boot of a node) and its time
// (claimed_at, by the claimer's clock). The engine's rescuer looks for old
// claims of its partitions through deliveries_claimed, which holds only
// claimed rows.

// FindStaleClaims returns the IDs of pending deliveries of f.Partitions
// claimed before f.Before, by any store, in ID order. A claim made before
// claims had a time (migration 9) counts as old.
func (s *Store) FindStaleClaims(ctx context.Context, f hookline.StaleClaimFilter) ([]string, error) {
	if f.Partitions != nil && len(f.Partitions) == 0 {
		return nil, nil
	}
	limit := f.Limit
	if limit <= 0 {
		limit = hookline.DefaultLimit
	}
	q := `SELECT id FROM deliveries WHERE claimed AND status = 0 AND (claimed_at IS NULL OR claimed_at < $1)
		AND id > $2`
	args := []any{truncate(f.Before), f.After, limit}
	if f.Partitions != nil {
		q += ` AND partition = ANY($4::int[])`
		args = append(args, f.Partitions)
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY id LIMIT $3`, args...)
	if err != nil {
		return nil, s.wrap("find stale claims", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, s.wrap("find stale claims", err)
	}
	return ids, nil
}

// RescueClaims unclaims those of the deliveries named whose claim was made
// before `before`, by any store, and returns how many; other nodes are told
// that work is due.
func (s *Store) RescueClaims(ctx context.Context, deliveryIDs []string, before time.Time) (int, error) {
	if len(deliveryIDs) == 0 {
		return 0, nil
	}
	var n int
	err := s.retry(ctx, "rescue claims", func() error {
		tag, err := s.pool.Exec(ctx, `UPDATE deliveries SET claimed = false
			WHERE id = ANY($1) AND claimed AND (claimed_at IS NULL OR claimed_at < $2)`, deliveryIDs, truncate(before))
		n = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.notify.due()
	}
	return n, nil
}

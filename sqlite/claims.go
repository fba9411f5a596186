package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/hookline/hookline"
)

// claims mirrors the claims of the file: a delivery is claimed while a node
// holds it in memory. The claim's flag is in the row (claimed): it keeps the
// row out of the partial indexes that ClaimDue and DueEndpoints walk, and
// costs nothing, since it is written with the insert or update the row gets
// anyway. Who holds the claim and since when live here instead: the file has
// one writer, this process, so a claim is this store's or was left by an
// earlier run, and its time matters only to this process's rescuer. Writing
// it to the row, and indexing it for the rescuer, would cost two more index
// writes per delivery on the hot path.
//
// Every write that claims or unclaims rows updates the map once its
// transaction commits, under the store's mu. Claims an earlier run left are
// read from the file the first time the rescuer asks (inherited), unless
// ResetClaims of every partition came first, as it does when the engine
// starts.
type claims struct {
	m         map[string]claim // delivery ID → claim
	inherited bool             // the claims of earlier runs are in m
}

// claim is the claim of one delivery.
type claim struct {
	at        int64 // when it was made (µs); 0 when an earlier run made it
	partition int
}

// add records claims made at now (µs) on tasks.
func (c *claims) add(tasks []*hookline.Task, now int64) {
	if c.m == nil {
		c.m = make(map[string]claim, len(tasks))
	}
	for _, t := range tasks {
		c.m[t.DeliveryID] = claim{at: now, partition: t.Partition}
	}
}

// mine reports whether this store made the claim of a delivery.
func (c *claims) mine(id string) bool { return c.m[id].at > 0 }

// reset forgets the claims of the partitions (nil: all).
func (c *claims) reset(partitions []int) {
	if partitions == nil {
		clear(c.m)
		c.inherited = true // none is left
		return
	}
	var mask [hookline.Partitions]bool
	for _, p := range partitions {
		if p >= 0 && p < hookline.Partitions {
			mask[p] = true
		}
	}
	for id, cl := range c.m {
		if mask[cl.partition] {
			delete(c.m, id)
		}
	}
}

// inherit reads the claims that earlier runs left in the file, once. The
// caller holds s.mu.
func (s *Store) inherit(ctx context.Context) error {
	if s.claims.inherited {
		return nil
	}
	rows, err := s.wdb.QueryContext(ctx, "SELECT id, partition FROM deliveries WHERE claimed = 1")
	if err != nil {
		return fmt.Errorf("read claims: %w", err)
	}
	defer rows.Close()
	if s.claims.m == nil {
		s.claims.m = make(map[string]claim)
	}
	for rows.Next() {
		var id string
		var p int
		if err := rows.Scan(&id, &p); err != nil {
			return fmt.Errorf("read claims: %w", err)
		}
		if _, ok := s.claims.m[id]; !ok {
			s.claims.m[id] = claim{partition: p}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read claims: %w", err)
	}
	s.claims.inherited = true
	return nil
}

// FindStaleClaims returns the IDs of pending deliveries claimed before
// f.Before, in ID order, from the claims the store keeps in memory: those it
// made, and those an earlier run left (made before any time). The few it
// finds are checked against the file, so that the claims of deliveries
// deleted since are not returned (and are forgotten).
func (s *Store) FindStaleClaims(ctx context.Context, f hookline.StaleClaimFilter) ([]string, error) {
	if f.Partitions != nil && len(f.Partitions) == 0 {
		return nil, nil
	}
	limit := f.Limit
	if limit <= 0 {
		limit = hookline.DefaultLimit
	}
	var mask []bool
	if f.Partitions != nil {
		mask = make([]bool, hookline.Partitions)
		for _, p := range f.Partitions {
			if p >= 0 && p < hookline.Partitions {
				mask[p] = true
			}
		}
	}
	before := micros(f.Before)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flushHeldBefore(ctx, before); err != nil {
		return nil, fmt.Errorf("sqlite: find stale claims: %w", err)
	}
	if err := s.inherit(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: find stale claims: %w", err)
	}
	var ids []string
	for id, cl := range s.claims.m {
		if cl.at < before && (mask == nil || mask[cl.partition]) && id > f.After {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var out []string
	for len(ids) > 0 && len(out) < limit {
		page := ids[:min(len(ids), limit-len(out))]
		ids = ids[len(page):]
		found, err := s.claimedOf(ctx, page)
		if err != nil {
			return nil, fmt.Errorf("sqlite: find stale claims: %w", err)
		}
		for _, id := range page {
			if found[id] {
				out = append(out, id)
			} else {
				delete(s.claims.m, id) // deleted since, with its endpoint
			}
		}
	}
	return out, nil
}

// claimedOf returns which of ids are pending and claimed in the file.
func (s *Store) claimedOf(ctx context.Context, ids []string) (map[string]bool, error) {
	rows, err := s.wdb.QueryContext(ctx, `SELECT id FROM deliveries
		WHERE id IN (SELECT value FROM json_each(?)) AND status = 0 AND claimed = 1`, jsonList(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := make(map[string]bool, len(ids))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		found[id] = true
	}
	return found, rows.Err()
}

// RescueClaims unclaims those of the deliveries named whose claim, as the
// store keeps it, was made before `before`, and returns how many.
func (s *Store) RescueClaims(ctx context.Context, deliveryIDs []string, before time.Time) (int, error) {
	if len(deliveryIDs) == 0 {
		return 0, nil
	}
	at := micros(before)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.inherit(ctx); err != nil {
		return 0, fmt.Errorf("sqlite: rescue claims: %w", err)
	}
	var stale []string
	for _, id := range deliveryIDs {
		if cl, ok := s.claims.m[id]; ok && cl.at < at {
			stale = append(stale, id)
		}
	}
	if len(stale) == 0 {
		return 0, nil
	}
	var n int64
	held := s.held.of(stale)
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.writeHeld(ctx, tx, held); err != nil {
			return err
		}
		res, err := tx.StmtContext(ctx, s.stmts.unclaim).ExecContext(ctx, jsonList(stale))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: rescue claims: %w", err)
	}
	s.held.wrote(held)
	for _, id := range stale {
		delete(s.claims.m, id)
	}
	return int(n), nil
}

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/epcodec"
)

// resealBatch is how many endpoints one transaction of resealSecrets
// rewrites.
const resealBatch = 100

// resealSecrets stores the secrets of eps (opened, with the sealed options:
// headers and auth) again as the store's box
// seals them now: with its current key, or in plain without one. It runs
// at Open, before anything else writes. When plain holds (some of them were
// stored in plain) and the box seals, it then rewrites the database (VACUUM:
// free pages, and the unallocated space of pages, may hold copies of rows as
// they were, even of rows rewritten long ago) and truncates the WAL, so
// that the file keeps no plain copy.
func (s *Store) resealSecrets(ctx context.Context, eps []*hookline.Endpoint, plain bool) error {
	if len(eps) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for batch := range slices.Chunk(eps, resealBatch) {
		err := s.write(ctx, func(tx *sql.Tx) error {
			for _, ep := range batch {
				opts, err := epcodec.Encode(s.box, ep)
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, "UPDATE endpoints SET secret = ?, previous_secret = ?, headers = ?, auth = ? WHERE id = ?",
					s.box.Seal(ep.Secret, ep.ID), s.box.Seal(ep.PreviousSecret, ep.ID), opts.Headers, opts.Auth, ep.ID); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("re-seal secrets: %w", err)
		}
		s.resealed += len(batch)
	}
	if !plain || s.box.KeyID() == "" {
		return nil
	}
	if _, err := s.wdb.ExecContext(ctx, "VACUUM"); err != nil {
		return fmt.Errorf("re-seal secrets: vacuum: %w", err)
	}
	var busy, frames, done int
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &done); err != nil {
		return fmt.Errorf("re-seal secrets: checkpoint: %w", err)
	} else if busy != 0 {
		return fmt.Errorf("re-seal secrets: checkpoint: the database is busy")
	}
	return nil
}

// ResealedSecrets returns how many endpoints' secrets Open re-sealed with
// the current key of its secret box (or stored in plain again, for a box
// without one): those stored in plain or sealed with a previous key.
func (s *Store) ResealedSecrets() int { return s.resealed }

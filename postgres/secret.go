package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/hookline/hookline/internal/secretbox"
)

// Sizes of the secret check at Open: endpoints read per query, and
// endpoints re-sealed per statement.
const (
	secretPage   = 1000
	resealBatch  = 100
	sealedPrefix = "aesgcm:%" // secretbox's sealed values, as a LIKE pattern
)

// storedSecrets are an endpoint's secrets as stored, and opened.
type storedSecrets struct {
	id                   string
	oldSecret, oldPrev   string
	secretOpen, prevOpen string
}

// checkSecrets checks at Open that the store can read every endpoint's
// secrets. Without a box it only looks for a sealed one, which fails.
// With one, it opens every endpoint's secrets, page by page, and re-seals
// those not sealed with the box's current key (resealSecrets).
func (s *Store) checkSecrets(ctx context.Context) error {
	if s.box == nil {
		var id, sealed string
		err := s.pool.QueryRow(ctx, `SELECT id, CASE WHEN secret LIKE $1 THEN secret ELSE previous_secret END
			FROM endpoints WHERE secret LIKE $1 OR previous_secret LIKE $1 LIMIT 1`, sealedPrefix).Scan(&id, &sealed)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		} else if err != nil {
			return fmt.Errorf("check secrets: %w", err)
		}
		_, err = (*secretbox.Box)(nil).Open(sealed, id) // the error names the key
		return fmt.Errorf("check secrets: endpoint %s: a secret is sealed: %w", id, err)
	}
	after := ""
	for {
		rows, err := s.pool.Query(ctx, `SELECT id, secret, previous_secret FROM endpoints WHERE id > $1 ORDER BY id LIMIT $2`,
			after, secretPage)
		if err != nil {
			return fmt.Errorf("check secrets: %w", err)
		}
		var stale []storedSecrets
		n := 0
		var id, secret, prev string
		_, err = pgx.ForEachRow(rows, []any{&id, &secret, &prev}, func() error {
			n, after = n+1, id
			st := storedSecrets{id: id, oldSecret: secret, oldPrev: prev}
			var err error
			if st.secretOpen, err = s.box.Open(secret, id); err != nil {
				return fmt.Errorf("endpoint %s: secret: %w", id, err)
			}
			if st.prevOpen, err = s.box.Open(prev, id); err != nil {
				return fmt.Errorf("endpoint %s: previous secret: %w", id, err)
			}
			if !s.box.Current(secret) || !s.box.Current(prev) {
				stale = append(stale, st)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("check secrets: %w", err)
		}
		if err := s.resealSecrets(ctx, stale); err != nil {
			return err
		}
		if n < secretPage {
			return nil
		}
	}
}

// resealSecrets stores the secrets of sts again as the box seals them now,
// resealBatch endpoints to a statement. A row is rewritten only while it
// still holds what was read, so a node that changed it meanwhile (a
// rotation, or its own re-seal at the same start) wins.
func (s *Store) resealSecrets(ctx context.Context, sts []storedSecrets) error {
	for batch := range slices.Chunk(sts, resealBatch) {
		cols := make([][]string, 5)
		for _, st := range batch {
			newSecret, newPrev := s.box.Seal(st.secretOpen, st.id), s.box.Seal(st.prevOpen, st.id)
			for i, v := range []string{st.id, st.oldSecret, newSecret, st.oldPrev, newPrev} {
				cols[i] = append(cols[i], v)
			}
		}
		tag, err := s.pool.Exec(ctx, `UPDATE endpoints e SET secret = u.new_secret, previous_secret = u.new_prev
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
				AS u(id, old_secret, new_secret, old_prev, new_prev)
			WHERE e.id = u.id AND e.secret = u.old_secret AND e.previous_secret = u.old_prev`,
			cols[0], cols[1], cols[2], cols[3], cols[4])
		if err != nil {
			return fmt.Errorf("re-seal secrets: %w", err)
		}
		s.resealed += int(tag.RowsAffected())
	}
	return nil
}

// ResealedSecrets returns how many endpoints' secrets Open re-sealed with
// the current key of its secret box (or stored in plain again, for a box
// without one): those stored in plain or sealed with a previous key, and
// not changed meanwhile by another node.
func (s *Store) ResealedSecrets() int { return s.resealed }

package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/hookline/hookline/internal/epcodec"
	"github.com/hookline/hookline/internal/secretbox"
)

// Sizes of the secret check at Open: endpoints read per query, and
// endpoints re-sealed per statement.
const (
	secretPage   = 1000
	resealBatch  = 100
	sealedPrefix = "aesgcm:%" // secretbox's sealed values, as a LIKE pattern
)

// storedSecrets are an endpoint's secrets as stored, and opened; its
// sealed options (headers, auth) as stored, and re-sealed.
type storedSecrets struct {
	id                   string
	oldSecret, oldPrev   string
	secretOpen, prevOpen string
	oldOpts, newOpts     epcodec.Stored
}

// checkSecrets checks at Open that the store can read every endpoint's
// secrets. Without a box it only looks for a sealed one, which fails.
// With one, it opens every endpoint's secrets, page by page, and re-seals
// those not sealed with the box's current key (resealSecrets).
func (s *Store) checkSecrets(ctx context.Context) error {
	if s.box == nil {
		var id, sealed string
		err := s.pool.QueryRow(ctx, `SELECT id, CASE WHEN secret LIKE $1 THEN secret WHEN previous_secret LIKE $1 THEN previous_secret
				WHEN headers LIKE $1 THEN headers ELSE auth END
			FROM endpoints WHERE secret LIKE $1 OR previous_secret LIKE $1 OR headers LIKE $1 OR auth LIKE $1 LIMIT 1`,
			sealedPrefix).Scan(&id, &sealed)
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
		rows, err := s.pool.Query(ctx, `SELECT id, secret, previous_secret, headers, auth FROM endpoints WHERE id > $1 ORDER BY id LIMIT $2`,
			after, secretPage)
		if err != nil {
			return fmt.Errorf("check secrets: %w", err)
		}
		var stale []storedSecrets
		n := 0
		var id, secret, prev string
		var opts epcodec.Stored
		_, err = pgx.ForEachRow(rows, []any{&id, &secret, &prev, &opts.Headers, &opts.Auth}, func() error {
			n, after = n+1, id
			st := storedSecrets{id: id, oldSecret: secret, oldPrev: prev, oldOpts: opts}
			var err error
			if st.secretOpen, err = s.box.Open(secret, id); err != nil {
				return fmt.Errorf("endpoint %s: secret: %w", id, err)
			}
			if st.prevOpen, err = s.box.Open(prev, id); err != nil {
				return fmt.Errorf("endpoint %s: previous secret: %w", id, err)
			}
			if st.newOpts, err = epcodec.Reseal(s.box, id, opts); err != nil {
				return err
			}
			if !s.box.Current(secret) || !s.box.Current(prev) || !epcodec.Current(s.box, opts) {
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
		cols := make([][]string, 9)
		for _, st := range batch {
			newSecret, newPrev := s.box.Seal(st.secretOpen, st.id), s.box.Seal(st.prevOpen, st.id)
			for i, v := range []string{st.id, st.oldSecret, newSecret, st.oldPrev, newPrev,
				st.oldOpts.Headers, st.newOpts.Headers, st.oldOpts.Auth, st.newOpts.Auth} {
				cols[i] = append(cols[i], v)
			}
		}
		tag, err := s.pool.Exec(ctx, `UPDATE endpoints e SET secret = u.new_secret, previous_secret = u.new_prev,
				headers = u.new_headers, auth = u.new_auth
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
				AS u(id, old_secret, new_secret, old_prev, new_prev, old_headers, new_headers, old_auth, new_auth)
			WHERE e.id = u.id AND e.secret = u.old_secret AND e.previous_secret = u.old_prev
				AND e.headers = u.old_headers AND e.auth = u.old_auth`,
			cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8])
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

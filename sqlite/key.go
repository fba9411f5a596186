package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hookline/hookline"
)

// CreateKey stores a new API key; the same ID or hash is a conflict.
func (s *Store) CreateKey(ctx context.Context, k *hookline.APIKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, tenant, name, hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			k.ID, k.Tenant, k.Name, k.Hash, micros(k.CreatedAt))
		return err
	})
	if isConstraint(err) {
		return hookline.Errorf(hookline.ECONFLICT, "API key %s already exists", k.ID)
	} else if err != nil {
		return fmt.Errorf("sqlite: create key: %w", err)
	}
	return nil
}

func scanKey(row scanner) (*hookline.APIKey, error) {
	var k hookline.APIKey
	var created int64
	if err := row.Scan(&k.ID, &k.Tenant, &k.Name, &k.Hash, &created); err != nil {
		return nil, err
	}
	k.CreatedAt = fromMicros(created)
	return &k, nil
}

// FindKeyByHash returns the key with the hash, or ENOTFOUND.
func (s *Store) FindKeyByHash(ctx context.Context, hash []byte) (*hookline.APIKey, error) {
	k, err := scanKey(s.rdb.QueryRowContext(ctx, "SELECT id, tenant, name, hash, created_at FROM api_keys WHERE hash = ?", hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hookline.Errorf(hookline.ENOTFOUND, "API key not found")
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find key: %w", err)
	}
	return k, nil
}

// FindKeys returns a page of keys, newest first.
func (s *Store) FindKeys(ctx context.Context, f hookline.KeyFilter) ([]*hookline.APIKey, string, error) {
	var where []string
	var args []any
	if f.Tenant != nil {
		where, args = append(where, "tenant = ?"), append(args, *f.Tenant)
	}
	if f.Cursor != "" {
		where, args = append(where, "id < ?"), append(args, f.Cursor)
	}
	limit := pageLimit(f.Limit)
	args = append(args, limit+1)
	rows, err := s.rdb.QueryContext(ctx, "SELECT id, tenant, name, hash, created_at FROM api_keys"+whereClause(where)+
		" ORDER BY id DESC LIMIT ?", args...)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: find keys: %w", err)
	}
	defer rows.Close()
	var ks []*hookline.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, "", fmt.Errorf("sqlite: find keys: %w", err)
		}
		ks = append(ks, k)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("sqlite: find keys: %w", err)
	}
	ks, next := paginate(ks, limit, func(k *hookline.APIKey) string { return k.ID })
	return ks, next, nil
}

// DeleteKey deletes a key, or returns ENOTFOUND.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM api_keys WHERE id = ?", id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete key: %w", err)
	} else if n == 0 {
		return hookline.Errorf(hookline.ENOTFOUND, "API key %.64q not found", id)
	}
	return nil
}

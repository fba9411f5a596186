package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookline/hookline"
)

// CreateKey stores a new API key; the same ID or hash is a conflict.
func (s *Store) CreateKey(ctx context.Context, k *hookline.APIKey) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO api_keys (id, tenant, name, hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
		k.ID, k.Tenant, k.Name, k.Hash, truncate(k.CreatedAt))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return hookline.Errorf(hookline.ECONFLICT, "API key %s already exists", k.ID)
	}
	return s.wrap("create key", err)
}

func scanKey(row pgx.Row) (*hookline.APIKey, error) {
	var k hookline.APIKey
	if err := row.Scan(&k.ID, &k.Tenant, &k.Name, &k.Hash, &k.CreatedAt); err != nil {
		return nil, err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	return &k, nil
}

// FindKeyByHash returns the key with the hash, or ENOTFOUND.
func (s *Store) FindKeyByHash(ctx context.Context, hash []byte) (*hookline.APIKey, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, "SELECT id, tenant, name, hash, created_at FROM api_keys WHERE hash = $1", hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, hookline.Errorf(hookline.ENOTFOUND, "API key not found")
	} else if err != nil {
		return nil, s.wrap("find key", err)
	}
	return k, nil
}

// FindKeys returns a page of keys, newest first.
func (s *Store) FindKeys(ctx context.Context, f hookline.KeyFilter) ([]*hookline.APIKey, string, error) {
	var where []string
	var args []any
	if f.Tenant != nil {
		args = append(args, *f.Tenant)
		where = append(where, fmt.Sprintf("tenant = $%d", len(args)))
	}
	if f.Cursor != "" {
		args = append(args, f.Cursor)
		where = append(where, fmt.Sprintf("id < $%d", len(args)))
	}
	limit := pageLimit(f.Limit)
	args = append(args, limit+1)
	rows, err := s.pool.Query(ctx, "SELECT id, tenant, name, hash, created_at FROM api_keys"+whereClause(where)+
		fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, "", s.wrap("find keys", err)
	}
	ks, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*hookline.APIKey, error) { return scanKey(row) })
	if err != nil {
		return nil, "", s.wrap("find keys", err)
	}
	ks, next := paginate(ks, limit, func(k *hookline.APIKey) string { return k.ID })
	return ks, next, nil
}

// DeleteKey deletes a key, or returns ENOTFOUND.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, "DELETE FROM api_keys WHERE id = $1", id)
	if err != nil {
		return s.wrap("delete key", err)
	} else if tag.RowsAffected() == 0 {
		return hookline.Errorf(hookline.ENOTFOUND, "API key %.64q not found", id)
	}
	return nil
}

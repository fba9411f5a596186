package hookline

import (
	"context"
	"time"
)

// KeyPrefix starts the IDs of API keys, and SecretKeyPrefix the keys
// themselves.
const (
	KeyPrefix       = "key_"
	SecretKeyPrefix = "hk_"
)

// APIKey is an API key scoped to one tenant: every /v1 route it is used on
// sees that tenant's objects only. The key itself is shown once, when it is
// made; the store keeps its SHA-256.
type APIKey struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	Name      string    `json:"name"`
	Hash      []byte    `json:"-"` // SHA-256 of the key
	CreatedAt time.Time `json:"created_at"`
}

// KeyFilter selects API keys. Results are ordered newest first.
type KeyFilter struct {
	Tenant *string // nil: any tenant
	Cursor string  // IDs below this one; "" starts at the newest
	Limit  int     // 0 means DefaultLimit
}

// KeyStore keeps the tenant-scoped API keys. Both stores implement it.
type KeyStore interface {
	// CreateKey stores a new key; a key with the same ID or hash is a
	// conflict.
	CreateKey(ctx context.Context, k *APIKey) error
	// FindKeyByHash returns the key with the SHA-256 hash, or ENOTFOUND.
	FindKeyByHash(ctx context.Context, hash []byte) (*APIKey, error)
	// FindKeys returns a page of keys, newest first, and the cursor of the
	// next page ("" on the last page).
	FindKeys(ctx context.Context, f KeyFilter) ([]*APIKey, string, error)
	// DeleteKey deletes a key, or returns ENOTFOUND.
	DeleteKey(ctx context.Context, id string) error
}

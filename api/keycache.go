package api

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/hookline/hookline"
)

// keyCacheTTL is how long a node trusts what the store said about a tenant
// key, found or not: a key deleted on another node is refused here within
// it, and a new key works within it (at once on the node that made it,
// which has not looked it up).
const keyCacheTTL = 500 * time.Millisecond

// maxCachedKeys bounds the key cache, so that a flood of made-up keys costs
// lookups, not memory.
const maxCachedKeys = 4096

// keyCache remembers the store's answers about tenant keys for keyCacheTTL,
// by the key's SHA-256: the found key, or nil for none.
type keyCache struct {
	store hookline.KeyStore
	now   func() time.Time

	mu      sync.Mutex
	entries map[[sha256.Size]byte]keyEntry
}

// keyEntry is one answer of the store.
type keyEntry struct {
	key *hookline.APIKey // nil: no such key
	at  time.Time
}

func newKeyCache(store hookline.KeyStore, now func() time.Time) *keyCache {
	return &keyCache{store: store, now: now, entries: make(map[[sha256.Size]byte]keyEntry)}
}

// find returns the tenant key whose SHA-256 is sum, nil when there is none,
// or the store's error (which is not cached).
func (c *keyCache) find(ctx context.Context, sum [sha256.Size]byte) (*hookline.APIKey, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[sum]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < keyCacheTTL && !now.Before(e.at) {
		return e.key, nil
	}
	k, err := c.store.FindKeyByHash(ctx, sum[:])
	if hookline.ErrorCode(err) == hookline.ENOTFOUND {
		k, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedKeys {
		for s, e := range c.entries {
			if now.Sub(e.at) >= keyCacheTTL {
				delete(c.entries, s)
			}
		}
		if len(c.entries) >= maxCachedKeys {
			clear(c.entries)
		}
	}
	c.entries[sum] = keyEntry{key: k, at: now}
	return k, nil
}

// forget drops the cached answer for key id, deleted on this node.
func (c *keyCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s, e := range c.entries {
		if e.key != nil && e.key.ID == id {
			delete(c.entries, s)
		}
	}
}

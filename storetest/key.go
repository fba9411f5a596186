package storetest

import (
	"crypto/sha256"
	"slices"
	"strings"
	"testing"

	"github.com/hookline/hookline"
)

var keyTests = []test{
	{"CreateFind", testKeyCreateFind},
	{"Conflict", testKeyConflict},
	{"List", testKeyList},
	{"Delete", testKeyDelete},
}

func (b *bundle) newKey(tenant, secret string) *hookline.APIKey {
	now := b.tick()
	h := sha256.Sum256([]byte(secret))
	return &hookline.APIKey{ID: hookline.NewID(hookline.KeyPrefix, now), Tenant: tenant, Name: tenant + " key",
		Hash: h[:], CreatedAt: now}
}

func testKeyCreateFind(t *testing.T, b *bundle) {
	k := b.newKey("acme", "hk_one")
	if err := b.s.CreateKey(b.ctx, k); err != nil {
		t.Fatal(err)
	}
	got, err := b.s.FindKeyByHash(b.ctx, k.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != k.ID || got.Tenant != "acme" || got.Name != k.Name || !slices.Equal(got.Hash, k.Hash) || !got.CreatedAt.Equal(k.CreatedAt) {
		t.Fatalf("found %+v, want %+v", got, k)
	}
	other := sha256.Sum256([]byte("hk_other"))
	_, err = b.s.FindKeyByHash(b.ctx, other[:])
	wantNotFound(t, err, "FindKeyByHash of an unknown key")
}

func testKeyConflict(t *testing.T, b *bundle) {
	k := b.newKey("acme", "hk_one")
	if err := b.s.CreateKey(b.ctx, k); err != nil {
		t.Fatal(err)
	}
	again := *k
	wantCode(t, b.s.CreateKey(b.ctx, &again), hookline.ECONFLICT, "CreateKey of the same ID")
	same := b.newKey("globex", "hk_one")
	wantCode(t, b.s.CreateKey(b.ctx, same), hookline.ECONFLICT, "CreateKey of the same key")
}

func testKeyList(t *testing.T, b *bundle) {
	var acme []string
	for i := range 5 {
		tenant := "acme"
		if i%2 == 1 {
			tenant = "globex"
		}
		k := b.newKey(tenant, "hk_"+string(rune('a'+i)))
		if err := b.s.CreateKey(b.ctx, k); err != nil {
			t.Fatal(err)
		}
		if tenant == "acme" {
			acme = append(acme, k.ID)
		}
	}
	var all []string
	cursor := ""
	for {
		ks, next, err := b.s.FindKeys(b.ctx, hookline.KeyFilter{Cursor: cursor, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			all = append(all, k.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(all) != 5 || !slices.IsSortedFunc(all, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Fatalf("keys in pages of 2: %v", all)
	}
	tenant := "acme"
	ks, _, err := b.s.FindKeys(b.ctx, hookline.KeyFilter{Tenant: &tenant})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range ks {
		got = append(got, k.ID)
	}
	sameIDs(t, got, acme, "keys of acme")
}

func testKeyDelete(t *testing.T, b *bundle) {
	k := b.newKey("acme", "hk_one")
	if err := b.s.CreateKey(b.ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := b.s.DeleteKey(b.ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	_, err := b.s.FindKeyByHash(b.ctx, k.Hash)
	wantNotFound(t, err, "FindKeyByHash of a deleted key")
	wantNotFound(t, b.s.DeleteKey(b.ctx, k.ID), "DeleteKey again")
}

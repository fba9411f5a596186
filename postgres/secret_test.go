package postgres_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/secretbox"
	"github.com/hookline/hookline/postgres"
	"github.com/hookline/hookline/signature"
	"github.com/hookline/hookline/storetest"
)

var (
	testKey1 = bytes.Repeat([]byte{0x11}, secretbox.KeySize)
	testKey2 = bytes.Repeat([]byte{0x22}, secretbox.KeySize)
)

func newBox(t testing.TB, current []byte, previous ...[]byte) *secretbox.Box {
	t.Helper()
	b, err := secretbox.New(current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openSealed opens a store on schema that seals secrets with box (none when
// nil), closed when the test ends.
func openSealed(tb testing.TB, schema string, box *secretbox.Box) (*postgres.Store, error) {
	tb.Helper()
	opts := []postgres.Option{postgres.WithSchema(schema)}
	if box != nil {
		opts = append(opts, postgres.WithSecretBox(box))
	}
	s, err := postgres.Open(context.Background(), databaseURL(tb), opts...)
	if err == nil {
		tb.Cleanup(func() { s.Close() })
	}
	return s, err
}

func mustOpenSealed(tb testing.TB, schema string, box *secretbox.Box) *postgres.Store {
	tb.Helper()
	s, err := openSealed(tb, schema, box)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s
}

// TestStoreSealed runs the conformance suite on stores that encrypt the
// secrets: they read back what they sealed, in every path.
func TestStoreSealed(t *testing.T) {
	databaseURL(t)
	box := newBox(t, testKey1)
	storetest.Run(t, func(t *testing.T) hookline.Store { return mustOpenSealed(t, testSchema(t), box) })
}

// sealedFixture creates n endpoints of tenant acme, every third rotated so
// that it has a previous secret, and returns them.
func sealedFixture(t *testing.T, s hookline.Store, n int) []*hookline.Endpoint {
	t.Helper()
	eps := make([]*hookline.Endpoint, n)
	for i := range eps {
		at := epoch.Add(time.Duration(i) * time.Millisecond)
		ep := newEndpoint("acme", at)
		ep.Secret = signature.GenerateSecret()
		if i%3 == 1 {
			ep.Secret = signature.GenerateSecretKey()
		}
		mustCreate(t, s, ep)
		if i%3 == 0 {
			next, until := signature.GenerateSecret(), at.Add(time.Hour)
			got, err := s.UpdateEndpoint(context.Background(), ep.ID, hookline.EndpointUpdate{Secret: &next, KeepPreviousUntil: &until}, at)
			if err != nil {
				t.Fatal(err)
			}
			ep = got
		}
		eps[i] = ep
	}
	return eps
}

// storedRows returns the secret columns of every endpoint of schema, as
// stored.
func storedRows(t *testing.T, schema string) map[string][2]string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), databaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), "SELECT id, secret, previous_secret FROM "+pgx.Identifier{schema, "endpoints"}.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][2]string)
	var id, secret, prev string
	if _, err := pgx.ForEachRow(rows, []any{&id, &secret, &prev}, func() error {
		out[id] = [2]string{secret, prev}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantSealedRows checks that no stored secret of schema holds a secret of
// eps in plain, and that each is sealed with keyID.
func wantSealedRows(t *testing.T, schema, keyID string, eps []*hookline.Endpoint) {
	t.Helper()
	rows := storedRows(t, schema)
	if len(rows) != len(eps) {
		t.Fatalf("%d endpoints stored, want %d", len(rows), len(eps))
	}
	for _, ep := range eps {
		stored := rows[ep.ID]
		for i, plain := range []string{ep.Secret, ep.PreviousSecret} {
			v := stored[i]
			if plain == "" {
				if v != "" {
					t.Fatalf("endpoint %s: a stored value where there is no secret", ep.ID)
				}
				continue
			}
			_, body, _ := strings.Cut(plain, "_")
			if strings.Contains(v, body) || !strings.HasPrefix(v, "aesgcm:"+keyID+":") {
				t.Fatalf("endpoint %s: column %d is %.20q…, not sealed with key %s", ep.ID, i, v, keyID)
			}
		}
	}
}

// wantEndpoints checks that s reads back eps, secrets included, by ID, in
// lists, and in the tasks of ingest and claims.
func wantEndpoints(t *testing.T, s hookline.Store, eps []*hookline.Endpoint) {
	t.Helper()
	ctx := context.Background()
	secrets := make(map[string]string)
	for _, want := range eps {
		secrets[want.ID] = want.Secret + " " + want.PreviousSecret
		got, err := s.FindEndpoint(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Secret != want.Secret || got.PreviousSecret != want.PreviousSecret || !got.PreviousSecretExpiresAt.Equal(want.PreviousSecretExpiresAt) {
			t.Fatalf("endpoint %s read back with other secrets", want.ID)
		}
	}
	list, _, err := s.FindEndpoints(ctx, hookline.EndpointFilter{Limit: hookline.MaxLimit})
	if err != nil || len(list) != len(eps) {
		t.Fatalf("FindEndpoints: %d, %v", len(list), err)
	}
	for _, ep := range list {
		if secrets[ep.ID] != ep.Secret+" "+ep.PreviousSecret {
			t.Fatalf("FindEndpoints: endpoint %s with other secrets", ep.ID)
		}
	}
	now := hookline.Now()
	r := mustIngest(t, s, now, true, newEvent("acme", "x", now))
	mustIngest(t, s, now, false, newEvent("acme", "x", now))
	if len(r.Tasks) != len(eps) {
		t.Fatalf("%d tasks, want %d", len(r.Tasks), len(eps))
	}
	var claimed []*hookline.Task
	for _, ep := range eps {
		res, err := s.ClaimDue(ctx, []hookline.ClaimRequest{{EndpointID: ep.ID, Limit: 10}}, now)
		if err != nil {
			t.Fatal(err)
		}
		claimed = append(claimed, res[0].Tasks...)
	}
	if len(claimed) != len(eps) {
		t.Fatalf("claimed %d tasks, want %d", len(claimed), len(eps))
	}
	for _, task := range append(r.Tasks, claimed...) {
		if secrets[task.Endpoint.ID] != task.Endpoint.Secret+" "+task.Endpoint.PreviousSecret {
			t.Fatalf("task of endpoint %s with other secrets", task.Endpoint.ID)
		}
	}
}

// TestSecretsSealedInRows checks that with a key the rows never hold a
// secret in plain, and the store reads back what it sealed, through every
// path and from another node.
func TestSecretsSealedInRows(t *testing.T) {
	t.Parallel()
	schema := testSchema(t)
	box := newBox(t, testKey1)
	s := mustOpenSealed(t, schema, box)
	eps := sealedFixture(t, s, 12)
	wantSealedRows(t, schema, box.KeyID(), eps)
	wantEndpoints(t, s, eps)
	other := mustOpenSealed(t, schema, box)
	if other.ResealedSecrets() != 0 {
		t.Errorf("a second node with the same key re-sealed %d endpoints", other.ResealedSecrets())
	}
	for _, ep := range eps {
		got, err := other.FindEndpoint(t.Context(), ep.ID)
		if err != nil || got.Secret != ep.Secret || got.PreviousSecret != ep.PreviousSecret {
			t.Fatalf("another node reads %s: %v", ep.ID, err)
		}
	}
}

// TestPlainSecretsResealed opens with a key a schema whose secrets are in
// plain: they keep working and are re-sealed in several batches. A node
// without the key cannot read them any more, and says so.
func TestPlainSecretsResealed(t *testing.T) {
	t.Parallel()
	schema := testSchema(t)
	plain := mustOpenSealed(t, schema, nil)
	eps := sealedFixture(t, plain, 2*100+17)
	if stored := storedRows(t, schema)[eps[0].ID]; stored[0] != eps[0].Secret || stored[1] != eps[0].PreviousSecret {
		t.Fatalf("without a key, endpoint %s is not stored in plain", eps[0].ID)
	}

	box := newBox(t, testKey1)
	s := mustOpenSealed(t, schema, box)
	if got := s.ResealedSecrets(); got != len(eps) {
		t.Errorf("ResealedSecrets = %d, want %d", got, len(eps))
	}
	wantSealedRows(t, schema, box.KeyID(), eps)
	wantEndpoints(t, s, eps)

	_, err := plain.FindEndpoint(t.Context(), eps[0].ID)
	if !errors.Is(err, secretbox.ErrUnknownKey) || !strings.Contains(err.Error(), box.KeyID()) {
		t.Errorf("a node without the key reads a sealed secret: %v, want ErrUnknownKey naming %s", err, box.KeyID())
	}
	if _, err := openSealed(t, schema, nil); !errors.Is(err, secretbox.ErrUnknownKey) || !strings.Contains(err.Error(), box.KeyID()) {
		t.Errorf("Open without the key: %v, want ErrUnknownKey naming %s", err, box.KeyID())
	}
	// Migrating needs no key.
	m, err := postgres.Open(t.Context(), databaseURL(t), postgres.WithSchema(schema), postgres.SkipSecretCheck())
	if err != nil {
		t.Fatalf("Open to migrate without the key: %v", err)
	}
	m.Close()
}

// TestResealConcurrently starts two nodes with the key at once on a schema
// of plain secrets: both open, and each row is re-sealed once.
func TestResealConcurrently(t *testing.T) {
	t.Parallel()
	schema := testSchema(t)
	eps := sealedFixture(t, mustOpenSealed(t, schema, nil), 300)
	box := newBox(t, testKey1)
	var stores [2]*postgres.Store
	var errs [2]error
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = openSealed(t, schema, box) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := stores[0].ResealedSecrets() + stores[1].ResealedSecrets(); got != len(eps) {
		t.Errorf("the nodes re-sealed %d + %d endpoints, want %d in all", stores[0].ResealedSecrets(), stores[1].ResealedSecrets(), len(eps))
	}
	wantSealedRows(t, schema, box.KeyID(), eps)
	wantEndpoints(t, stores[1], eps)
}

// TestSecretKeyRotation rotates the encryption key, and checks that a
// missing or wrong key fails Open, naming the key ID and nothing secret.
func TestSecretKeyRotation(t *testing.T) {
	t.Parallel()
	schema := testSchema(t)
	eps := sealedFixture(t, mustOpenSealed(t, schema, newBox(t, testKey1)), 12)

	rotated := newBox(t, testKey2, testKey1)
	s := mustOpenSealed(t, schema, rotated)
	if got := s.ResealedSecrets(); got != len(eps) {
		t.Errorf("ResealedSecrets = %d, want %d", got, len(eps))
	}
	wantSealedRows(t, schema, rotated.KeyID(), eps)
	wantEndpoints(t, s, eps)
	if s := mustOpenSealed(t, schema, newBox(t, testKey2)); s.ResealedSecrets() != 0 {
		t.Errorf("the new key alone re-sealed %d", s.ResealedSecrets())
	}

	keyText := base64.StdEncoding.EncodeToString(testKey2)
	for _, tt := range []struct {
		name string
		box  *secretbox.Box
	}{{"Missing", nil}, {"Wrong", newBox(t, testKey1)}} {
		_, err := openSealed(t, schema, tt.box)
		if !errors.Is(err, secretbox.ErrUnknownKey) || !strings.Contains(err.Error(), secretbox.KeyID(testKey2)) {
			t.Errorf("%s key: Open = %v, want ErrUnknownKey naming key %s", tt.name, err, secretbox.KeyID(testKey2))
		}
		if err != nil && (strings.Contains(err.Error(), keyText) || strings.Contains(err.Error(), "whsec_") || strings.Contains(err.Error(), "whsk_")) {
			t.Errorf("%s key: the error %q shows a key or a secret", tt.name, err)
		}
	}
	// Back to plain: the old key as a previous one, no current key.
	off := mustOpenSealed(t, schema, newBox(t, nil, testKey2))
	if got := off.ResealedSecrets(); got != len(eps) {
		t.Errorf("decrypting: ResealedSecrets = %d, want %d", got, len(eps))
	}
	wantEndpoints(t, mustOpenSealed(t, schema, nil), eps)
}

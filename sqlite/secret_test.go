package sqlite

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/secretbox"
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

// TestStoreSealed runs the conformance suite on stores that encrypt the
// secrets: they read back what they sealed, in every path.
func TestStoreSealed(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hookline.Store {
		s, err := Open(filepath.Join(t.TempDir(), "hookline.db"), WithSecretBox(newBox(t, testKey1)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if !t.Failed() {
				checkCounts(t, s)
			}
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}

// sealedFixture creates n endpoints, every third with a previous secret,
// and returns them.
func sealedFixture(t *testing.T, s *Store, n int) []*hookline.Endpoint {
	t.Helper()
	now := hookline.Now()
	eps := make([]*hookline.Endpoint, n)
	for i := range eps {
		at := now.Add(time.Duration(i) * time.Millisecond)
		ep := &hookline.Endpoint{ID: hookline.NewID(hookline.EndpointPrefix, at), Tenant: "acme", URL: "https://x.example/",
			Secret: signature.GenerateSecret(), CreatedAt: at, UpdatedAt: at}
		if i%3 == 1 {
			ep.Secret = signature.GenerateSecretKey()
		}
		if err := s.CreateEndpoint(context.Background(), ep); err != nil {
			t.Fatal(err)
		}
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

// secretBodies returns the key part of every secret of eps, what must not
// be found in the file.
func secretBodies(eps []*hookline.Endpoint) []string {
	var out []string
	for _, ep := range eps {
		for _, s := range []string{ep.Secret, ep.PreviousSecret} {
			if _, body, ok := strings.Cut(s, "_"); ok {
				out = append(out, body)
			}
		}
	}
	return out
}

// fileHolds reports which of needles the database file and its WAL hold.
func fileHolds(t *testing.T, path string, needles []string) []string {
	t.Helper()
	var data []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		data = append(data, b...)
	}
	var found []string
	for _, n := range needles {
		if bytes.Contains(data, []byte(n)) {
			found = append(found, n)
		}
	}
	return found
}

// wantSealedRows checks that every stored secret is sealed with keyID.
func wantSealedRows(t *testing.T, s *Store, keyID string) {
	t.Helper()
	rows, err := s.rdb.Query("SELECT id, secret, previous_secret FROM endpoints")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, secret, prev string
		if err := rows.Scan(&id, &secret, &prev); err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{secret, prev} {
			if v != "" && !strings.HasPrefix(v, "aesgcm:"+keyID+":") {
				t.Fatalf("endpoint %s: a stored secret %.20q… is not sealed with key %s", id, v, keyID)
			}
		}
		n++
	}
	if err := rows.Err(); err != nil || n == 0 {
		t.Fatalf("%d endpoints, %v", n, err)
	}
}

// wantEndpoints checks that s reads back eps, secrets included, through
// every read path.
func wantEndpoints(t *testing.T, s *Store, eps []*hookline.Endpoint) {
	t.Helper()
	for _, want := range eps {
		got, err := s.FindEndpoint(context.Background(), want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Secret != want.Secret || got.PreviousSecret != want.PreviousSecret || !got.PreviousSecretExpiresAt.Equal(want.PreviousSecretExpiresAt) {
			t.Fatalf("endpoint %s read back with secrets %.12q…, %.12q…", want.ID, got.Secret, got.PreviousSecret)
		}
	}
	list, _, err := s.FindEndpoints(context.Background(), hookline.EndpointFilter{Limit: hookline.MaxLimit})
	if err != nil || len(list) != len(eps) {
		t.Fatalf("FindEndpoints: %d, %v", len(list), err)
	}
	secrets := make(map[string]string)
	for _, ep := range eps {
		secrets[ep.ID] = ep.Secret + " " + ep.PreviousSecret
	}
	for _, ep := range list {
		if secrets[ep.ID] != ep.Secret+" "+ep.PreviousSecret {
			t.Fatalf("FindEndpoints: endpoint %s with other secrets", ep.ID)
		}
	}
	// The fan-out cache, loaded at Open, hands tasks the plain secrets.
	ev := &hookline.Event{ID: hookline.NewID(hookline.EventPrefix, hookline.Now()), Tenant: "acme", Type: "x", CreatedAt: hookline.Now()}
	r := &hookline.IngestRequest{Events: []*hookline.Event{ev}, Claim: true}
	if err := s.Ingest(context.Background(), []*hookline.IngestRequest{r}, hookline.Now()); err != nil {
		t.Fatal(err)
	}
	for _, task := range r.Tasks {
		if secrets[task.Endpoint.ID] != task.Endpoint.Secret+" "+task.Endpoint.PreviousSecret {
			t.Fatalf("task of endpoint %s with other secrets", task.Endpoint.ID)
		}
	}
	if len(r.Tasks) != len(eps) {
		t.Fatalf("%d tasks, want %d", len(r.Tasks), len(eps))
	}
}

// TestSecretsSealedInFile checks that with a key the database file never
// holds a secret in plain, and the store reads back what it sealed, before
// and after reopening.
func TestSecretsSealedInFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hookline.db")
	box := newBox(t, testKey1)
	s, err := Open(path, WithSecretBox(box))
	if err != nil {
		t.Fatal(err)
	}
	eps := sealedFixture(t, s, 30)
	needles := secretBodies(eps)
	if found := fileHolds(t, path, needles); len(found) != 0 {
		t.Fatalf("the database holds %d of %d secrets in plain while open", len(found), len(needles))
	}
	wantSealedRows(t, s, box.KeyID())
	wantEndpoints(t, s, eps)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if found := fileHolds(t, path, needles); len(found) != 0 {
		t.Fatalf("the database holds %d of %d secrets in plain once closed", len(found), len(needles))
	}

	s, err = Open(path, WithSecretBox(box))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.ResealedSecrets() != 0 {
		t.Errorf("reopening with the same key re-sealed %d endpoints", s.ResealedSecrets())
	}
	wantEndpoints(t, s, eps)
}

// TestPlainSecretsResealed opens with a key a database whose secrets are in
// plain (from before the key was set): they keep working, are re-sealed,
// across several batches, and the file keeps no plain copy.
func TestPlainSecretsResealed(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hookline.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	eps := sealedFixture(t, s, 2*resealBatch+17)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	needles := secretBodies(eps)
	// The search finds secrets stored in plain, so its silence below means
	// something.
	if found := fileHolds(t, path, needles); len(found) != len(needles) {
		t.Fatalf("the plain database holds %d of %d secrets", len(found), len(needles))
	}

	box := newBox(t, testKey1)
	s, err = Open(path, WithSecretBox(box))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.ResealedSecrets(); got != len(eps) {
		t.Errorf("ResealedSecrets = %d, want %d", got, len(eps))
	}
	if found := fileHolds(t, path, needles); len(found) != 0 {
		t.Errorf("after re-sealing, the database still holds %d of %d secrets in plain", len(found), len(needles))
	}
	wantSealedRows(t, s, box.KeyID())
	wantEndpoints(t, s, eps)
	checkCounts(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if found := fileHolds(t, path, needles); len(found) != 0 {
		t.Errorf("once closed, the database holds %d of %d secrets in plain", len(found), len(needles))
	}
}

// TestSecretKeyRotation rotates the encryption key: a previous key opens
// the values it sealed, which are re-sealed with the new one; then the old
// key is no longer needed, and a missing or wrong key fails Open, naming
// the key ID and nothing secret.
func TestSecretKeyRotation(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hookline.db")
	open := func(box *secretbox.Box) (*Store, error) {
		if box == nil {
			return Open(path)
		}
		return Open(path, WithSecretBox(box))
	}
	s, err := open(newBox(t, testKey1))
	if err != nil {
		t.Fatal(err)
	}
	eps := sealedFixture(t, s, 12)
	s.Close()

	rotated := newBox(t, testKey2, testKey1)
	if s, err = open(rotated); err != nil {
		t.Fatal(err)
	}
	if got := s.ResealedSecrets(); got != len(eps) {
		t.Errorf("ResealedSecrets = %d, want %d", got, len(eps))
	}
	wantSealedRows(t, s, rotated.KeyID())
	wantEndpoints(t, s, eps)
	s.Close()

	// The old key can go now.
	if s, err = open(newBox(t, testKey2)); err != nil {
		t.Fatalf("Open with the new key alone: %v", err)
	}
	wantEndpoints(t, s, eps)
	s.Close()

	secretText := base64.StdEncoding.EncodeToString(testKey2)
	for _, tt := range []struct {
		name string
		box  *secretbox.Box
		want error
	}{
		{"Missing", nil, secretbox.ErrUnknownKey},
		{"Wrong", newBox(t, testKey1), secretbox.ErrUnknownKey},
	} {
		s, err := open(tt.box)
		if err == nil {
			s.Close()
			t.Fatalf("%s key: Open succeeded", tt.name)
		}
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), secretbox.KeyID(testKey2)) {
			t.Errorf("%s key: Open = %v, want %v naming key %s", tt.name, err, tt.want, secretbox.KeyID(testKey2))
		}
		if strings.Contains(err.Error(), secretText) || strings.Contains(err.Error(), "whsec_") || strings.Contains(err.Error(), "whsk_") {
			t.Errorf("%s key: the error %q shows a key or a secret", tt.name, err)
		}
	}

	// A value altered in the file fails Open rather than giving a garbage
	// secret.
	db, err := open(newBox(t, testKey2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.wdb.Exec(`UPDATE endpoints SET secret = substr(secret, 1, length(secret) - 6) || 'AAAA==' WHERE id = ?`, eps[0].ID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := open(newBox(t, testKey2)); err == nil {
		s.Close()
		t.Fatal("Open with an altered sealed value succeeded")
	} else if !errors.Is(err, secretbox.ErrOpen) || !strings.Contains(err.Error(), eps[0].ID) {
		t.Errorf("Open with an altered sealed value: %v, want ErrOpen naming %s", err, eps[0].ID)
	}
}

// TestSecretsDecryptedBack turns encryption off: with the old key as a
// previous one and no current key, the secrets are stored in plain again,
// and the store opens without a key afterwards.
func TestSecretsDecryptedBack(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hookline.db")
	s, err := Open(path, WithSecretBox(newBox(t, testKey1)))
	if err != nil {
		t.Fatal(err)
	}
	eps := sealedFixture(t, s, 5)
	s.Close()
	if s, err = Open(path, WithSecretBox(newBox(t, nil, testKey1))); err != nil {
		t.Fatal(err)
	}
	if got := s.ResealedSecrets(); got != len(eps) {
		t.Errorf("ResealedSecrets = %d, want %d", got, len(eps))
	}
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatalf("Open without a key after decrypting: %v", err)
	}
	defer s.Close()
	wantEndpoints(t, s, eps)
	if found := fileHolds(t, path, secretBodies(eps)); len(found) == 0 {
		t.Error("the secrets are not in plain in the file")
	}
}

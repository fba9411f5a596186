package sqlite

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hookline/hookline"
)

// optionsEndpoint returns an endpoint whose headers and auth hold the
// needles, and the needles.
func optionsEndpoint(id string) (*hookline.Endpoint, []string) {
	now := hookline.Now()
	ep := &hookline.Endpoint{ID: hookline.NewID(hookline.EndpointPrefix, now) + id, Tenant: "acme", URL: "https://x.example/",
		Secret: "whsec_c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0", CreatedAt: now, UpdatedAt: now,
		Headers: map[string]string{"X-Api-Key": "header-value-needle-" + id},
		Auth: &hookline.EndpointAuth{Type: hookline.AuthOAuth2ClientCredentials, TokenURL: "https://auth.example/token",
			ClientID: "client", ClientSecret: "client-secret-needle-" + id}}
	return ep, []string{"header-value-needle-" + id, "client-secret-needle-" + id}
}

// TestOptionsSealedInFile checks that with a key an endpoint's headers
// and auth are sealed in the file (and, as the control, that without one
// they are there in plain), that they read back, and that opening with a
// new key re-seals them.
func TestOptionsSealedInFile(t *testing.T) {
	t.Parallel()
	t.Run("Plain", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "hookline.db")
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		ep, needles := optionsEndpoint("a")
		if err := s.CreateEndpoint(context.Background(), ep); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if found := fileHolds(t, path, needles); len(found) != len(needles) {
			t.Fatalf("without a key the file holds %d of %d values in plain", len(found), len(needles))
		}
	})
	path := filepath.Join(t.TempDir(), "hookline.db")
	box := newBox(t, testKey1)
	s, err := Open(path, WithSecretBox(box))
	if err != nil {
		t.Fatal(err)
	}
	ep, needles := optionsEndpoint("b")
	if err := s.CreateEndpoint(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	up, more := optionsEndpoint("c")
	if _, err := s.UpdateEndpoint(context.Background(), ep.ID, hookline.EndpointUpdate{SetHeaders: true, Headers: up.Headers}, hookline.Now()); err != nil {
		t.Fatal(err)
	}
	ep.Headers = up.Headers
	needles = append(needles, more[0])
	wantStoredOptions(t, s, ep.ID, "aesgcm:"+box.KeyID()+":")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if found := fileHolds(t, path, needles); len(found) != 0 {
		t.Fatalf("the file holds %q in plain", found)
	}
	box2 := newBox(t, testKey2, testKey1)
	s, err = Open(path, WithSecretBox(box2))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.ResealedSecrets() != 1 {
		t.Fatalf("re-sealed %d endpoints with the new key, want 1", s.ResealedSecrets())
	}
	wantStoredOptions(t, s, ep.ID, "aesgcm:"+box2.KeyID()+":")
	got, err := s.FindEndpoint(context.Background(), ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Headers, ep.Headers) || !reflect.DeepEqual(got.Auth, ep.Auth) {
		t.Fatalf("read back %v %+v, want %v %+v", got.Headers, got.Auth, ep.Headers, ep.Auth)
	}
}

// wantStoredOptions checks that the stored headers and auth of an
// endpoint start with prefix.
func wantStoredOptions(t *testing.T, s *Store, id, prefix string) {
	t.Helper()
	var headers, auth string
	if err := s.rdb.QueryRow("SELECT headers, auth FROM endpoints WHERE id = ?", id).Scan(&headers, &auth); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{headers, auth} {
		if !strings.HasPrefix(v, prefix) {
			t.Fatalf("stored %.20q…, want it sealed (%s)", v, prefix)
		}
	}
}

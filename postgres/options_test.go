package postgres_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hookline/hookline"
)

// TestOptionsSealedInRows checks that with a key an endpoint's headers
// and auth are sealed in its row, written by create and by update, read
// back by another node with the same key, and re-sealed with a new key.
func TestOptionsSealedInRows(t *testing.T) {
	t.Parallel()
	schema := testSchema(t)
	box := newBox(t, testKey1)
	s := mustOpenSealed(t, schema, box)
	now := hookline.Now()
	ep := &hookline.Endpoint{ID: hookline.NewID(hookline.EndpointPrefix, now), Tenant: "acme", URL: "https://x.example/",
		Secret: "whsec_c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0", CreatedAt: now, UpdatedAt: now,
		Headers: map[string]string{"X-Api-Key": "header-needle-1"},
		Auth:    &hookline.EndpointAuth{Type: hookline.AuthBasic, Username: "user", Password: "password-needle"}}
	if err := s.CreateEndpoint(t.Context(), ep); err != nil {
		t.Fatal(err)
	}
	keyID := box.KeyID()
	check := func(needles ...string) {
		t.Helper()
		conn, err := pgx.Connect(t.Context(), databaseURL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var headers, auth string
		if err := conn.QueryRow(t.Context(), "SELECT headers, auth FROM "+pgx.Identifier{schema, "endpoints"}.Sanitize()+
			" WHERE id = $1", ep.ID).Scan(&headers, &auth); err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{headers, auth} {
			if !strings.HasPrefix(v, "aesgcm:"+keyID+":") {
				t.Fatalf("stored %.20q…, not sealed", v)
			}
			for _, n := range needles {
				if strings.Contains(v, n) {
					t.Fatalf("stored %q in plain", n)
				}
			}
		}
	}
	check("header-needle-1", "password-needle")
	ep.Headers = map[string]string{"X-Api-Key": "header-needle-2"}
	if _, err := s.UpdateEndpoint(t.Context(), ep.ID, hookline.EndpointUpdate{SetHeaders: true, Headers: ep.Headers}, hookline.Now()); err != nil {
		t.Fatal(err)
	}
	check("header-needle-2", "password-needle")
	got, err := mustOpenSealed(t, schema, box).FindEndpoint(t.Context(), ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Headers, ep.Headers) || !reflect.DeepEqual(got.Auth, ep.Auth) {
		t.Fatalf("another node reads %v %+v", got.Headers, got.Auth)
	}
	// A new key: a node started with it (the old one previous) re-seals
	// them, and a node with the new key alone reads them.
	box2 := newBox(t, testKey2, testKey1)
	if n := mustOpenSealed(t, schema, box2).ResealedSecrets(); n != 1 {
		t.Fatalf("re-sealed %d endpoints, want 1", n)
	}
	keyID = box2.KeyID()
	check("header-needle-2", "password-needle")
	got, err = mustOpenSealed(t, schema, newBox(t, testKey2)).FindEndpoint(t.Context(), ep.ID)
	if err != nil || !reflect.DeepEqual(got.Headers, ep.Headers) || !reflect.DeepEqual(got.Auth, ep.Auth) {
		t.Fatalf("a node with the new key alone reads %v %+v: %v", got.Headers, got.Auth, err)
	}
}

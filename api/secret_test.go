package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/signature"
)

// secretJSON is the answer of GET /v1/endpoints/{id}/secret and of a
// rotation.
type secretJSON struct {
	Secret                  string     `json:"secret"`
	PublicKey               string     `json:"public_key"`
	PreviousSecret          string     `json:"previous_secret"`
	PreviousPublicKey       string     `json:"previous_public_key"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
}

// strictJSON decodes the body of r into v, refusing fields v lacks.
func strictJSON(t *testing.T, r *response, status int, v any) {
	t.Helper()
	r.ok(t, status, nil)
	dec := json.NewDecoder(strings.NewReader(string(r.body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// rotate posts body to the endpoint's rotate route and returns the answer.
func (b *bundle) rotate(t *testing.T, id, body string) secretJSON {
	t.Helper()
	var sec secretJSON
	res := b.do(t, "POST", "/v1/endpoints/"+id+"/secret/rotate", body)
	strictJSON(t, res, 200, &sec)
	if got := res.header.Get("Cache-Control"); got != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store", got)
	}
	return sec
}

// wantExpiry checks that an expiry is grace after a time between before and
// after.
func wantExpiry(t *testing.T, got *time.Time, before, after time.Time, grace time.Duration) {
	t.Helper()
	if got == nil {
		t.Fatal("no previous_secret_expires_at")
	}
	if got.Before(before.Add(grace).Truncate(time.Microsecond)) || got.After(after.Add(grace)) {
		t.Fatalf("previous_secret_expires_at %v, want %v after a time in [%v, %v]", got, grace, before, after)
	}
}

func TestRotateSecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	created := b.createEndpoint(t, `{"url":"https://example.com/hook"}`)
	id, s0 := created.ID, created.Secret

	// Generated, with the default grace period of 24 h.
	before := time.Now()
	sec := b.rotate(t, id, "")
	after := time.Now()
	if _, err := signature.ParseSecret(sec.Secret); err != nil || sec.Secret == s0 {
		t.Fatalf("rotated to %q (%v), from %q", sec.Secret, err, s0)
	}
	if sec.PreviousSecret != s0 || sec.PublicKey != "" || sec.PreviousPublicKey != "" {
		t.Fatalf("rotation answer %+v, want the previous secret %s", sec, s0)
	}
	wantExpiry(t, sec.PreviousSecretExpiresAt, before, after, 24*time.Hour)
	s1 := sec.Secret
	stored, err := b.store.FindEndpoint(context.Background(), id)
	if err != nil || stored.Secret != s1 || stored.PreviousSecret != s0 || !stored.PreviousSecretExpiresAt.Equal(*sec.PreviousSecretExpiresAt) {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	if changed, ok := b.engine.lastChange(id); !ok || changed.Secret != s1 || changed.PreviousSecret != s0 {
		t.Fatalf("engine not told of the rotation: %+v", changed)
	}
	var got secretJSON
	strictJSON(t, b.do(t, "GET", "/v1/endpoints/"+id+"/secret", ""), 200, &got)
	if got.Secret != s1 || got.PreviousSecret != s0 || !got.PreviousSecretExpiresAt.Equal(*sec.PreviousSecretExpiresAt) {
		t.Fatalf("GET secret %+v during the grace period", got)
	}

	// Given, with a grace period of its own: only the newest previous
	// secret is kept.
	s2 := signature.GenerateSecret()
	before = time.Now()
	sec = b.rotate(t, id, `{"secret":"`+s2+`","expire_old_in":"90m"}`)
	after = time.Now()
	if sec.Secret != s2 || sec.PreviousSecret != s1 {
		t.Fatalf("second rotation %+v, want %s then %s", sec, s2, s1)
	}
	wantExpiry(t, sec.PreviousSecretExpiresAt, before, after, 90*time.Minute)

	// expire_old_in 0s drops the old secret at once.
	sec = b.rotate(t, id, `{"expire_old_in":"0s"}`)
	if sec.PreviousSecret != "" || sec.PreviousSecretExpiresAt != nil || sec.Secret == s2 {
		t.Fatalf("rotation with 0s %+v, want no previous secret", sec)
	}
	stored, _ = b.store.FindEndpoint(context.Background(), id)
	if stored.Secret != sec.Secret || stored.PreviousSecret != "" || !stored.PreviousSecretExpiresAt.IsZero() {
		t.Fatalf("stored after 0s %+v", stored)
	}
	var only map[string]any
	b.do(t, "GET", "/v1/endpoints/"+id+"/secret", "").ok(t, 200, &only)
	if len(only) != 1 || only["secret"] != sec.Secret {
		t.Fatalf("GET secret with no previous one: %v", only)
	}

	// PATCH secret replaces it at once too, and drops a previous one.
	b.rotate(t, id, `{"expire_old_in":"1h"}`)
	s3 := signature.GenerateSecret()
	b.do(t, "PATCH", "/v1/endpoints/"+id, `{"secret":"`+s3+`"}`).ok(t, 200, nil)
	stored, _ = b.store.FindEndpoint(context.Background(), id)
	if stored.Secret != s3 || stored.PreviousSecret != "" {
		t.Fatalf("after PATCH secret: %+v", stored)
	}

	t.Run("SecretsNotShown", func(t *testing.T) {
		sec := b.rotate(t, id, "")
		for _, path := range []string{"/v1/endpoints/" + id, "/v1/endpoints"} {
			res := b.do(t, "GET", path, "")
			for _, s := range []string{sec.Secret, sec.PreviousSecret} {
				if strings.Contains(string(res.body), s[len("whsec_"):]) {
					t.Fatalf("GET %s shows a secret: %s", path, res.body)
				}
			}
			if strings.Contains(string(res.body), "previous_secret") {
				t.Fatalf("GET %s shows a previous secret field: %s", path, res.body)
			}
		}
		if logs := b.logs.String(); strings.Contains(logs, sec.Secret[len("whsec_"):]) || strings.Contains(logs, sec.PreviousSecret[len("whsec_"):]) {
			t.Fatal("a secret was logged")
		}
	})
}

func TestRotateSecretInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	created := b.createEndpoint(t, `{"url":"https://example.com/hook"}`)
	path := "/v1/endpoints/" + created.ID + "/secret/rotate"
	before, err := b.store.FindEndpoint(context.Background(), created.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, body string
		want       []string
	}{
		{"SecretDoesNotParse", `{"secret":"hunter2"}`, []string{"secret:", "whsec_"}},
		{"SecretShort", `{"secret":"whsec_c2hvcnQ="}`, []string{"secret: key must be 24 to 64 bytes"}},
		{"SecretIsPublicKey", `{"secret":"whpk_AihwwFyeHXYXo2kags7ENH6B77XV2+JioOx5JeE7BRY="}`, []string{"secret:", "cannot sign"}},
		{"SecretCurrent", `{"secret":"` + before.Secret + `"}`, []string{"secret: is the current secret"}},
		{"SecretNotString", `{"secret":42}`, []string{"secret: must be a string"}},
		{"Negative", `{"expire_old_in":"-1h"}`, []string{"expire_old_in:", "0s"}},
		{"Unparseable", `{"expire_old_in":"a day"}`, []string{"expire_old_in:"}},
		{"NoUnit", `{"expire_old_in":"24"}`, []string{"expire_old_in:"}},
		{"TooLong", `{"expire_old_in":"721h"}`, []string{"expire_old_in:", "720h"}},
		{"NotString", `{"expire_old_in":86400}`, []string{"expire_old_in: must be a string"}},
		{"UnknownField", `{"expire_in":"1h"}`, []string{"expire_in: unknown field"}},
		{"Scheme", `{"signature_scheme":"v2"}`, []string{"signature_scheme:", "v1a"}},
		{"SchemeMismatch", `{"signature_scheme":"v1a","secret":"` + signature.GenerateSecret() + `"}`, []string{"secret:", "whsk_"}},
		{"NotJSON", `{"secret":`, []string{"request body:"}},
		{"Array", `[]`, []string{"request body:"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b.do(t, "POST", path, tt.body).wantError(t, 400, hookline.EINVALID, tt.want...)
		})
	}
	// Nothing was written, and the engine was not told.
	after, err := b.store.FindEndpoint(context.Background(), created.ID)
	if err != nil || after.Secret != before.Secret || after.PreviousSecret != "" || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("after refused rotations: %+v, %v; before %+v", after, err, before)
	}
	if changed, _ := b.engine.lastChange(created.ID); changed != nil && changed.Secret != before.Secret {
		t.Fatalf("engine told of a change: %+v", changed)
	}

	b.do(t, "POST", "/v1/endpoints/ep_nope/secret/rotate", "").wantError(t, 404, hookline.ENOTFOUND)
	b.do(t, "POST", "/v1/endpoints/ep_nope/secret/rotate", `{"expire_old_in":"1h"}`).wantError(t, 404, hookline.ENOTFOUND)
	res := b.do(t, "GET", path, "")
	res.wantError(t, 405, hookline.EMETHOD)
	if allow := res.header.Get("Allow"); allow != "POST" {
		t.Fatalf("Allow %q, want POST", allow)
	}
}

func TestSignatureScheme(t *testing.T) {
	t.Parallel()
	b := setup(t)

	var ep map[string]any
	b.do(t, "POST", "/v1/endpoints", `{"url":"https://example.com/a","signature_scheme":"v1a"}`).ok(t, 201, &ep)
	id, secret, pub := ep["id"].(string), ep["secret"].(string), ep["public_key"]
	if ep["signature_scheme"] != "v1a" || !strings.HasPrefix(secret, "whsk_") {
		t.Fatalf("created %v, want a v1a endpoint with a whsk_ secret", ep)
	}
	if want, err := signature.PublicKeyOf(secret); err != nil || pub != want {
		t.Fatalf("public_key %v, want %s (%v)", pub, want, err)
	}
	var read map[string]any
	b.do(t, "GET", "/v1/endpoints/"+id, "").ok(t, 200, &read)
	if read["signature_scheme"] != "v1a" || read["secret"] != nil || read["public_key"] != nil {
		t.Fatalf("GET endpoint %v", read)
	}
	var sec secretJSON
	strictJSON(t, b.do(t, "GET", "/v1/endpoints/"+id+"/secret", ""), 200, &sec)
	if sec.Secret != secret || sec.PublicKey != pub || sec.PreviousSecret != "" {
		t.Fatalf("GET secret %+v", sec)
	}

	// A rotation of a v1a endpoint generates a v1a key, and shows the
	// public keys of both.
	rot := b.rotate(t, id, "")
	if !strings.HasPrefix(rot.Secret, "whsk_") || rot.PreviousSecret != secret || rot.PreviousPublicKey != pub {
		t.Fatalf("v1a rotation %+v", rot)
	}
	if want, _ := signature.PublicKeyOf(rot.Secret); rot.PublicKey != want || want == "" {
		t.Fatalf("public_key %q, want %q", rot.PublicKey, want)
	}

	t.Run("Default", func(t *testing.T) {
		var ep map[string]any
		b.do(t, "POST", "/v1/endpoints", `{"url":"https://example.com/b"}`).ok(t, 201, &ep)
		if ep["signature_scheme"] != "v1" || !strings.HasPrefix(ep["secret"].(string), "whsec_") || ep["public_key"] != nil {
			t.Fatalf("default endpoint %v", ep)
		}
	})
	t.Run("FromSecret", func(t *testing.T) {
		var ep map[string]any
		b.do(t, "POST", "/v1/endpoints", `{"url":"https://example.com/c","secret":"`+signature.GenerateSecretKey()+`"}`).ok(t, 201, &ep)
		if ep["signature_scheme"] != "v1a" || ep["public_key"] == nil {
			t.Fatalf("endpoint with a whsk_ secret %v", ep)
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		for _, tt := range []struct{ body, want string }{
			{`{"url":"https://example.com/","signature_scheme":"v2"}`, "signature_scheme:"},
			{`{"url":"https://example.com/","signature_scheme":"V1A"}`, "signature_scheme:"},
			{`{"url":"https://example.com/","signature_scheme":"v1a","secret":"` + signature.GenerateSecret() + `"}`, "secret: signature_scheme v1a needs a secret starting with whsk_"},
			{`{"url":"https://example.com/","signature_scheme":"v1","secret":"` + signature.GenerateSecretKey() + `"}`, "secret: signature_scheme v1 needs a secret starting with whsec_"},
			{`{"url":"https://example.com/","secret":"whsk_AAAA"}`, "secret:"},
		} {
			b.do(t, "POST", "/v1/endpoints", tt.body).wantError(t, 400, hookline.EINVALID, tt.want)
			b.do(t, "PATCH", "/v1/endpoints/"+id, strings.Replace(tt.body, `"url":"https://example.com/",`, "", 1)).
				wantError(t, 400, hookline.EINVALID, tt.want)
		}
		if st := b.storeStats(t); st.Endpoints != 3 {
			t.Fatalf("%d endpoints after refused creations, want 3", st.Endpoints)
		}
	})

	t.Run("PatchScheme", func(t *testing.T) {
		var ep map[string]any
		b.do(t, "POST", "/v1/endpoints", `{"url":"https://example.com/d"}`).ok(t, 201, &ep)
		id, old := ep["id"].(string), ep["secret"].(string)
		// The same scheme: nothing changes.
		ep = nil
		b.do(t, "PATCH", "/v1/endpoints/"+id, `{"signature_scheme":"v1"}`).ok(t, 200, &ep)
		if stored, _ := b.store.FindEndpoint(context.Background(), id); stored.Secret != old || stored.PreviousSecret != "" {
			t.Fatalf("PATCH to the same scheme changed the secret: %+v", stored)
		}
		// Another scheme: a generated key of it, the old secret signing on
		// for 24 h.
		before := time.Now()
		ep = nil
		b.do(t, "PATCH", "/v1/endpoints/"+id, `{"signature_scheme":"v1a"}`).ok(t, 200, &ep)
		after := time.Now()
		if ep["signature_scheme"] != "v1a" || ep["secret"] != nil {
			t.Fatalf("PATCH signature_scheme answered %v", ep)
		}
		var sec secretJSON
		strictJSON(t, b.do(t, "GET", "/v1/endpoints/"+id+"/secret", ""), 200, &sec)
		if !strings.HasPrefix(sec.Secret, "whsk_") || sec.PublicKey == "" || sec.PreviousSecret != old || sec.PreviousPublicKey != "" {
			t.Fatalf("secret after the scheme changed: %+v", sec)
		}
		wantExpiry(t, sec.PreviousSecretExpiresAt, before, after, 24*time.Hour)
		if changed, _ := b.engine.lastChange(id); changed == nil || changed.Secret != sec.Secret || changed.PreviousSecret != old {
			t.Fatalf("engine told %+v", changed)
		}
		// A secret with the scheme replaces it at once.
		key := signature.GenerateSecret()
		b.do(t, "PATCH", "/v1/endpoints/"+id, `{"signature_scheme":"v1","secret":"`+key+`"}`).ok(t, 200, &ep)
		if stored, _ := b.store.FindEndpoint(context.Background(), id); ep["signature_scheme"] != "v1" || stored.Secret != key || stored.PreviousSecret != "" {
			t.Fatalf("after PATCH with a v1 secret: %v, %+v", ep, stored)
		}
		b.do(t, "PATCH", "/v1/endpoints/ep_nope", `{"signature_scheme":"v1a"}`).wantError(t, 404, hookline.ENOTFOUND)
	})
}

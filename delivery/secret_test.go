package delivery_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/delivery"
	"github.com/hookline/hookline/signature"
)

// verifier checks a delivery with one key the way a receiver does: v1
// secrets with the official Standard Webhooks library (against the wall
// clock), v1a public keys with package signature (against the engine's
// clock; the official Go library has no v1a).
type verifier struct {
	name   string
	verify func(r *received, now time.Time) error
}

func verifierOf(t *testing.T, name, secret string) verifier {
	t.Helper()
	if signature.SchemeOf(secret) == signature.SchemeV1a {
		pub, err := signature.PublicKeyOf(secret)
		if err != nil {
			t.Fatal(err)
		}
		k, err := signature.ParsePublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return verifier{name, func(r *received, now time.Time) error { return k.Verify(r.header, r.body, now) }}
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return verifier{name, func(r *received, now time.Time) error { return wh.Verify(r.body, r.header) }}
}

// TestSecretRotation rotates the secrets of three endpoints (HMAC to HMAC,
// HMAC to ed25519, ed25519 to ed25519) with a grace period, and checks with
// real receivers that every delivery verifies with the old and the new key
// until the old one expires by the engine's clock, new signature first, and
// then only with the new one.
func TestSecretRotation(t *testing.T) {
	for _, s := range []struct {
		name  string
		setup func(*testing.T, delivery.Config) *bundle
	}{{"SQLite", setup}, {"PostgreSQL", setupPostgres}} {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			// The engine's clock runs with the wall clock, plus an offset
			// the test moves past the grace period (by less than the five
			// minutes receivers tolerate).
			var offset atomic.Int64
			now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
			b := s.setup(t, delivery.Config{Now: now})

			type rotation struct {
				name           string
				oldKey, newKey string
				oldV, newV     verifier
				rc             *receiver
			}
			rotations := []*rotation{
				{name: "v1", oldKey: signature.GenerateSecret(), newKey: signature.GenerateSecret()},
				{name: "v1-to-v1a", oldKey: signature.GenerateSecret(), newKey: signature.GenerateSecretKey()},
				{name: "v1a", oldKey: signature.GenerateSecretKey(), newKey: signature.GenerateSecretKey()},
			}
			expires := now().Add(time.Minute)
			for _, r := range rotations {
				r.oldV, r.newV = verifierOf(t, "old", r.oldKey), verifierOf(t, "new", r.newKey)
				// The receiver trusts both keys during the switch, as one
				// that follows the rotation does; it refuses what neither
				// verifies.
				r.rc = newReceiver(t, func(w http.ResponseWriter, got *received) {
					if r.newV.verify(got, now()) != nil && r.oldV.verify(got, now()) != nil {
						w.WriteHeader(http.StatusUnauthorized)
					}
				})
				created := now()
				ep := &hookline.Endpoint{
					ID: hookline.NewID(hookline.EndpointPrefix, created), URL: r.rc.URL, EventTypes: []string{"rotate." + r.name},
					Secret: r.oldKey, CreatedAt: created, UpdatedAt: created,
				}
				if err := b.store.CreateEndpoint(context.Background(), ep); err != nil {
					t.Fatal(err)
				}
				// A delivery before the rotation carries one signature.
				got := deliver(t, b, r.rc, "rotate."+r.name)
				wantSignatures(t, got, r.oldKey)
				if err := r.oldV.verify(got, now()); err != nil {
					t.Fatalf("%s: before the rotation: %v", r.name, err)
				}

				// Rotate as the API does: in the store, then tell the engine.
				ep, err := b.store.UpdateEndpoint(context.Background(), ep.ID,
					hookline.EndpointUpdate{Secret: &r.newKey, KeepPreviousUntil: &expires}, now())
				if err != nil {
					t.Fatal(err)
				}
				b.engine.EndpointChanged(ep.ID, ep)
			}

			// During the grace period: both signatures, the new one first;
			// each key verifies.
			for _, r := range rotations {
				for range 3 {
					got := deliver(t, b, r.rc, "rotate."+r.name)
					wantSignatures(t, got, r.newKey, r.oldKey)
					for _, v := range []verifier{r.newV, r.oldV} {
						if err := v.verify(got, now()); err != nil {
							t.Fatalf("%s: during the grace period, the %s key: %v", r.name, v.name, err)
						}
					}
				}
			}

			// Past the expiry, by the engine's clock: only the new key.
			offset.Store(int64(2 * time.Minute))
			for _, r := range rotations {
				got := deliver(t, b, r.rc, "rotate."+r.name)
				wantSignatures(t, got, r.newKey)
				if err := r.newV.verify(got, now()); err != nil {
					t.Fatalf("%s: after the expiry, the new key: %v", r.name, err)
				}
				err := r.oldV.verify(got, now())
				if !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) && !errors.Is(err, signature.ErrNoMatch) {
					t.Fatalf("%s: after the expiry, the old key: %v, want no matching signature", r.name, err)
				}
			}
		})
	}
}

// deliver sends an event of type typ and returns its delivery to rc, once
// the delivery is recorded as delivered (the receiver answered 2xx: its
// check of the signatures passed).
func deliver(t *testing.T, b *bundle, rc *receiver, typ string) *received {
	t.Helper()
	res := b.send(t, typ, `{"rotating":true}`)
	got := rc.next(t)
	if id := got.header.Get("webhook-id"); id != res.ID {
		t.Fatalf("webhook-id %s, want %s", id, res.ID)
	}
	b.waitStatus(t, res.ID, hookline.StatusDelivered)
	return got
}

// wantSignatures checks that webhook-signature holds one entry per secret,
// in order, of each secret's scheme.
func wantSignatures(t *testing.T, got *received, secrets ...string) {
	t.Helper()
	entries := strings.Split(got.header.Get("webhook-signature"), " ")
	if len(entries) != len(secrets) {
		t.Fatalf("webhook-signature %q: %d entries, want %d", got.header.Get("webhook-signature"), len(entries), len(secrets))
	}
	for i, secret := range secrets {
		s, err := signature.NewSigner(secret)
		if err != nil {
			t.Fatal(err)
		}
		unix, err := strconv.ParseInt(got.header.Get("webhook-timestamp"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		want := string(s.AppendSignature(nil, got.header.Get("webhook-id"), unix, got.body))
		if entries[i] != want {
			t.Fatalf("webhook-signature entry %d is %q, want %q (the %s signature)", i, entries[i], want, s.Scheme())
		}
	}
}

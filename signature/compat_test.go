package signature_test

import (
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookline/hookline/signature"
)

// randomMessage returns a random secret, message ID, timestamp and payload.
func randomMessage(r *rand.Rand) (secret, id string, unix int64, payload []byte) {
	key := make([]byte, 24+r.IntN(41))
	for i := range key {
		key[i] = byte(r.Uint32())
	}
	secret = "whsec_" + base64.StdEncoding.EncodeToString(key)
	idb := make([]byte, 1+r.IntN(80))
	for i := range idb {
		idb[i] = byte(0x21 + r.IntN(0x7e-0x21)) // printable, as in a header
	}
	payload = make([]byte, r.IntN(4096))
	for i := range payload {
		payload[i] = byte(r.Uint32())
	}
	return secret, string(idb), r.Int64N(1 << 35), payload
}

// TestCompatStandardWebhooks cross-checks this package against the official
// Go library of the specification, both ways, on random messages.
func TestCompatStandardWebhooks(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		secret, id, unix, payload := randomMessage(r)
		ts := time.Unix(unix, 0)
		ours := mustSigner(t, secret)
		theirs, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatalf("standardwebhooks.NewWebhook: %v", err)
		}

		// Sign with ours, verify with theirs.
		sig := ours.Sign(id, ts, payload)
		if err := theirs.VerifyIgnoringTimestamp(payload, headers(id, unix, sig)); err != nil {
			t.Fatalf("message %d: ours signed %q, theirs rejects it: %v", i, sig, err)
		}
		// Sign with theirs, verify with ours.
		theirSig, err := theirs.Sign(id, ts, payload)
		if err != nil {
			t.Fatalf("standardwebhooks Sign: %v", err)
		}
		if theirSig != sig {
			t.Fatalf("message %d: signatures differ: ours %q, theirs %q", i, sig, theirSig)
		}
		if err := ours.Verify(headers(id, unix, theirSig), payload, ts); err != nil {
			t.Fatalf("message %d: theirs signed %q, ours rejects it: %v", i, theirSig, err)
		}

		// Both reject the same tampering.
		if len(payload) > 0 {
			bad := append([]byte(nil), payload...)
			bad[r.IntN(len(bad))] ^= 1 << r.IntN(8)
			if err := theirs.VerifyIgnoringTimestamp(bad, headers(id, unix, sig)); err == nil {
				t.Fatalf("message %d: theirs accepts a tampered payload", i)
			}
			if err := ours.Verify(headers(id, unix, theirSig), bad, ts); !errors.Is(err, signature.ErrNoMatch) {
				t.Fatalf("message %d: ours on a tampered payload: %v, want ErrNoMatch", i, err)
			}
		}
	}
}

// TestCompatTimestampNow checks both libraries agree on a message signed now,
// since the official one verifies against the wall clock.
func TestCompatTimestampNow(t *testing.T) {
	t.Parallel()
	secret := signature.GenerateSecret()
	ours := mustSigner(t, secret)
	theirs, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	payload := []byte(`{"type":"ping"}`)
	h := http.Header{}
	h.Set(standardwebhooks.HeaderWebhookID, "msg_now")
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, ours.Sign("msg_now", now, payload))
	if err := theirs.Verify(payload, h); err != nil {
		t.Errorf("standardwebhooks Verify: %v", err)
	}
	if err := ours.Verify(h, payload, now); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if signature.HeaderID != standardwebhooks.HeaderWebhookID ||
		signature.HeaderTimestamp != standardwebhooks.HeaderWebhookTimestamp ||
		signature.HeaderSignature != standardwebhooks.HeaderWebhookSignature {
		t.Error("header names differ from the official library's")
	}
}

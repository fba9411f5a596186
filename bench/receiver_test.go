package bench

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/signature"
)

func TestParseFields(t *testing.T) {
	t.Parallel()
	data := appendData(nil, "ab12cd34", 42, 1_700_000_000_123_456_789, "xxxx")
	body := []byte(`{"id":"evt_1","type":"bench.ab12cd34","timestamp":"2025-01-01T00:00:00Z","data":` + string(data) + `}`)
	f := parseFields(body)
	if string(f.run) != "ab12cd34" || f.seq != 42 || f.sentNS != 1_700_000_000_123_456_789 {
		t.Fatalf("parseFields = run %q seq %d sent %d", f.run, f.seq, f.sentNS)
	}
	if f := parseFields([]byte(`{"data":{"hello":1}}`)); f.run != nil || f.seq != -1 || f.sentNS != 0 {
		t.Fatalf("parseFields of foreign data = %+v", f)
	}
	for path, want := range map[string]int{"/r/0": 0, "/r/17": 17, "/r/": -1, "/x/1": -1, "/r/1a": -1} {
		if got := endpointIndex(path); got != want {
			t.Errorf("endpointIndex(%q) = %d, want %d", path, got, want)
		}
	}
}

// TestVerifySignature checks the bench's own verifier against the server's
// signer, package signature.
func TestVerifySignature(t *testing.T) {
	t.Parallel()
	secret := signature.GenerateSecret()
	s, err := signature.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	key, err := secretKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	body := []byte(`{"id":"evt_1","type":"t","timestamp":"x","data":{}}`)
	h := http.Header{
		"Webhook-Id":        {"evt_1"},
		"Webhook-Timestamp": {strconv.FormatInt(now.Unix(), 10)},
		"Webhook-Signature": {"v1,bm90IGl0 " + s.Sign("evt_1", now, body)},
	}
	if err := verifySignature(key, h, body, now); err != nil {
		t.Fatalf("verify a signed delivery: %v", err)
	}
	if got := sign(key, "evt_1", h["Webhook-Timestamp"][0], body); got != s.Sign("evt_1", now, body) {
		t.Fatalf("sign = %s, want the server's %s", got, s.Sign("evt_1", now, body))
	}
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-2] = ' '
	if verifySignature(key, h, tampered, now) == nil {
		t.Fatal("tampered body verified")
	}
	if verifySignature(key, h, body, now.Add(time.Hour)) == nil {
		t.Fatal("stale timestamp verified")
	}
	h["Webhook-Id"] = []string{"evt_2"}
	if verifySignature(key, h, body, now) == nil {
		t.Fatal("webhook-id other than the payload's verified")
	}
}

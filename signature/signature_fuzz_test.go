package signature_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookline/hookline/signature"
)

// FuzzVerify feeds untrusted headers and bodies to Verify: it must never
// panic, must accept only a correct signature, and a correctly signed message
// must always verify, whatever junk shares its header.
func FuzzVerify(f *testing.F) {
	f.Add(specSecret, specID, "1614265330", specSignature, []byte(specPayload), int64(specTimestamp), int64(0))
	f.Add("whsec_", "", "", "", []byte(nil), int64(0), int64(0))
	f.Add("whsec_AAAA", "x", "-9223372036854775808", "v1, v1,,, v2,abc", []byte("{}"), int64(-1), int64(300))
	f.Add(specSecret, "msg", "+01614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= \xff\t v1,", []byte("\x00"), int64(1<<40), int64(-300))
	f.Add("not a secret", "\x00", "1e9", "v1,"+strings.Repeat("A", 43)+"=", []byte("payload"), int64(-1<<40), int64(-301))

	s := mustSigner(f, specSecret)
	f.Fuzz(func(t *testing.T, secret, id, tsText, sigText string, payload []byte, unix, offsetSec int64) {
		now := time.Unix(specTimestamp, 0)

		// Arbitrary headers, with any secret: no panic, whatever comes back.
		h := http.Header{
			"Webhook-Id":        {id},
			"Webhook-Timestamp": {tsText},
			"Webhook-Signature": {sigText},
		}
		_ = signature.Verify(secret, h, payload, now, time.Duration(offsetSec))
		_ = signature.Verify(secret, http.Header{"webhook-signature": {sigText, id}}, payload, now, 0)

		// With a known key, success means a correct v1 entry was present.
		if err := s.Verify(h, payload, now); err == nil {
			ts, perr := strconv.ParseInt(tsText, 10, 64)
			if perr != nil {
				t.Fatalf("accepted unparsable timestamp %q", tsText)
			}
			want := strings.TrimPrefix(s.Sign(id, time.Unix(ts, 0), payload), "v1,")
			found := false
			for entry := range strings.FieldsSeq(sigText) {
				found = found || entry == "v1,"+want
			}
			if !found {
				t.Fatalf("accepted %q, which holds no correct signature (want v1,%s)", sigText, want)
			}
		}

		// A correctly signed message verifies, alone or among junk entries,
		// anywhere within the tolerance.
		if id == "" {
			return
		}
		unix %= 1 << 40
		offset := time.Duration(offsetSec%301) * time.Second
		good := s.Sign(id, time.Unix(unix, 0), payload)
		at := time.Unix(unix, 0).Add(offset)
		for _, sigs := range []string{good, sigText + " " + good, good + " " + sigText} {
			h := headers(id, unix, sigs)
			h["Webhook-Id"] = []string{id} // exactly as given, not trimmed by Set
			if err := s.Verify(h, payload, at); err != nil {
				t.Fatalf("correct signature %q among %q rejected: %v", good, sigs, err)
			}
		}
		// And fails once the clock is a second past the tolerance either way.
		h = headers(id, unix, good)
		h["Webhook-Id"] = []string{id}
		for _, d := range []time.Duration{-1, 1} {
			beyond := time.Unix(unix, 0).Add(d * (signature.DefaultTolerance + time.Second))
			if err := s.Verify(h, payload, beyond); !errors.Is(err, signature.ErrTimestamp) {
				t.Fatalf("message verified %s from its timestamp: %v, want ErrTimestamp", beyond.Sub(time.Unix(unix, 0)), err)
			}
		}
	})
}

// FuzzSign checks that what Sign produces has the v1 shape, equals the
// signature computed the obvious way, verifies with this package and with the
// official library, and that AppendSignature agrees with Sign.
func FuzzSign(f *testing.F) {
	f.Add([]byte("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), specID, int64(specTimestamp), []byte(specPayload))
	f.Add([]byte{}, "", int64(0), []byte(nil))
	f.Add(bytes.Repeat([]byte{0xff}, 100), "ünï\x00cødé", int64(-1), []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, key []byte, id string, unix int64, payload []byte) {
		// Make the key a valid length.
		key = append(bytes.Clone(key), make([]byte, max(0, 24-len(key)))...)[:min(max(len(key), 24), 64)]
		secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
		got, err := signature.ParseSecret(secret)
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("ParseSecret(%q) = %x, %v; want %x", secret, got, err, key)
		}
		s := mustSigner(t, secret)

		sig := s.Sign(id, time.Unix(unix, 0), payload)
		if want := reference(key, id, unix, payload); sig != want {
			t.Fatalf("Sign = %q, want %q", sig, want)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sig, "v1,"))
		if !strings.HasPrefix(sig, "v1,") || len(sig) != 47 || err != nil || len(raw) != 32 {
			t.Fatalf("Sign = %q, want v1, and the base64 of 32 bytes", sig)
		}
		if app := s.AppendSignature([]byte("x"), id, unix, payload); string(app) != "x"+sig {
			t.Fatalf("AppendSignature = %q, want %q", app, "x"+sig)
		}

		if id == "" {
			return
		}
		h := headers(id, unix, sig)
		h["Webhook-Id"] = []string{id}
		if unix > -1<<40 && unix < 1<<40 {
			if err := s.Verify(h, payload, time.Unix(unix, 0)); err != nil {
				t.Fatalf("Verify of own signature: %v", err)
			}
		}
		theirs, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := theirs.VerifyIgnoringTimestamp(payload, h); err != nil {
			t.Fatalf("standardwebhooks rejects %q: %v", sig, err)
		}
	})
}

// FuzzVerifyV1a feeds untrusted keys, headers and bodies to the v1a side:
// parsing a key never panics and a key that parses prints as given; Verify
// never panics; a public key accepts only a message that carries the
// correct v1a signature among its first eight v1a entries; and a correctly
// signed message verifies, alone or among junk entries.
func FuzzVerifyV1a(f *testing.F) {
	f.Add(vecPublicKey, specID, "1614265330", vecSignature, []byte(specPayload), int64(specTimestamp))
	f.Add(vecSecretKey, "", "", "", []byte(nil), int64(0))
	f.Add("whpk_", "x", "-1", "v1a, v1a,,, v1,abc v1a="+strings.Repeat("A", 86), []byte("{}"), int64(-1))
	f.Add("whsk_"+strings.Repeat("/", 88), "msg\x00", "1614265330", vec2Signature+" \xff\t "+vecSignature, []byte("\x00"), int64(1<<40))
	f.Add(vec2PublicKey, specID, "1614265330", "v1a,"+strings.Repeat("A", 86)+"==", []byte(specPayload), int64(-1<<40))

	k := mustPublicKey(f, vecPublicKey)
	s := mustSigner(f, vecSecretKey)
	f.Fuzz(func(t *testing.T, key, id, tsText, sigText string, payload []byte, unix int64) {
		now := time.Unix(specTimestamp, 0)
		if pk, err := signature.ParsePublicKey(key); err == nil && pk.String() != key {
			t.Fatalf("ParsePublicKey(%q) prints as %q", key, pk)
		}
		if _, err := signature.ParseSecretKey(key); err == nil {
			pub, err := signature.PublicKeyOf(key)
			if err != nil {
				t.Fatalf("PublicKeyOf(%q) of a key that parses: %v", key, err)
			}
			if _, err := signature.ParsePublicKey(pub); err != nil {
				t.Fatalf("ParsePublicKey(PublicKeyOf(%q)): %v", key, err)
			}
		}
		h := http.Header{
			"Webhook-Id":        {id},
			"Webhook-Timestamp": {tsText},
			"Webhook-Signature": {sigText},
		}
		_ = signature.Verify(key, h, payload, now, 0)

		if err := k.Verify(h, payload, now); err == nil {
			ts, perr := strconv.ParseInt(tsText, 10, 64)
			if perr != nil {
				t.Fatalf("accepted unparsable timestamp %q", tsText)
			}
			want := s.Sign(id, time.Unix(ts, 0), payload)
			found, seen := false, 0
			for entry := range strings.FieldsSeq(sigText) {
				if strings.HasPrefix(entry, "v1a,") && len(entry) == len(want) {
					seen++
					found = found || (entry == want && seen <= 8)
				}
			}
			if !found {
				t.Fatalf("accepted %q, which holds no correct v1a signature among its first eight (want %s)", sigText, want)
			}
		}

		if id == "" {
			return
		}
		unix %= 1 << 40
		good := s.Sign(id, time.Unix(unix, 0), payload)
		for _, sigs := range []string{good, good + " " + sigText, "v1," + strings.Repeat("A", 43) + "= " + good} {
			h := headers(id, unix, sigs)
			h["Webhook-Id"] = []string{id}
			if err := k.Verify(h, payload, time.Unix(unix, 0)); err != nil {
				t.Fatalf("correct signature %q among %q rejected: %v", good, sigs, err)
			}
		}
	})
}

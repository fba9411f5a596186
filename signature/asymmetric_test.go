package signature_test

import (
	"bytes"
	"crypto/ed25519"
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

// v1a vectors, generated once with crypto/ed25519 from the seeds
// SHA-256("hookline v1a test vector") and SHA-256("hookline v1a test
// vector, rotated"), signing the message of the specification's v1 example
// (specID, specTimestamp, specPayload).
const (
	vecSecretKey = "whsk_SzGQK/nMthdR8KybCMlhqlFzrOd0gbuoUlactpCRVOUCKHDAXJ4ddhejaRqCzsQ0foHvtdXb4mKg7Hkl4TsFFg=="
	vecPublicKey = "whpk_AihwwFyeHXYXo2kags7ENH6B77XV2+JioOx5JeE7BRY="
	vecSignature = "v1a,sSAZHzWLIStIR3TcfPXscQzvqity9MdSvxZSBBTTvl84i0ciJ7ELn7UJ4CjW8yPGnIFsUhRP0LlJRVLdrJmyAQ=="

	vec2SecretKey = "whsk_v1FBKw9Lx7caJOQut3aCHQPyfUm5bGA3Gba3zT/d2ZQO/Xh8WWJbwRusufS8DjHDQVmmBP/G7ufHCBcTyrMJCA=="
	vec2PublicKey = "whpk_Dv14fFliW8EbrLn0vA4xw0FZpgT/xu7nxwgXE8qzCQg="
	vec2Signature = "v1a,1KMHwENG1AyrYyIZUkFdkl0On1ERP8EznZeuCJHjnM7dHu9ajddWMBgd+qevBedfLDfThBQTPBJjzYe3+/i1BA=="
)

// mustPublicKey returns the PublicKey of key or fails the test.
func mustPublicKey(tb testing.TB, key string) *signature.PublicKey {
	tb.Helper()
	k, err := signature.ParsePublicKey(key)
	if err != nil {
		tb.Fatalf("ParsePublicKey(%q): %v", key, err)
	}
	return k
}

// referenceV1a computes a v1a signature with crypto/ed25519 directly.
func referenceV1a(secretKey, id string, unix int64, payload []byte) string {
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secretKey, "whsk_"))
	msg := id + "." + strconv.FormatInt(unix, 10) + "." + string(payload)
	return "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(ed25519.PrivateKey(raw), []byte(msg)))
}

func TestV1aVectors(t *testing.T) {
	t.Parallel()
	ts := time.Unix(specTimestamp, 0)
	for _, v := range []struct{ secret, public, sig string }{
		{vecSecretKey, vecPublicKey, vecSignature},
		{vec2SecretKey, vec2PublicKey, vec2Signature},
	} {
		s := mustSigner(t, v.secret)
		if got := s.Sign(specID, ts, []byte(specPayload)); got != v.sig {
			t.Errorf("Sign = %q, want %q", got, v.sig)
		}
		if got := s.AppendSignature([]byte("x:"), specID, specTimestamp, []byte(specPayload)); string(got) != "x:"+v.sig {
			t.Errorf("AppendSignature = %q, want %q", got, "x:"+v.sig)
		}
		if got := referenceV1a(v.secret, specID, specTimestamp, []byte(specPayload)); got != v.sig {
			t.Errorf("crypto/ed25519 signs %q, the vector says %q", got, v.sig)
		}
		if s.Scheme() != signature.SchemeV1a || s.PublicKey() != v.public {
			t.Errorf("Scheme, PublicKey = %q, %q; want v1a, %q", s.Scheme(), s.PublicKey(), v.public)
		}
		if pk, err := signature.PublicKeyOf(v.secret); err != nil || pk != v.public {
			t.Errorf("PublicKeyOf = %q, %v; want %q", pk, err, v.public)
		}
		if got := mustPublicKey(t, v.public).String(); got != v.public {
			t.Errorf("PublicKey.String = %q", got)
		}
		h := headers(specID, specTimestamp, v.sig)
		for _, key := range []string{v.public, v.secret} {
			if err := signature.Verify(key, h, []byte(specPayload), ts, 0); err != nil {
				t.Errorf("Verify with %.10s…: %v", key, err)
			}
		}
		if err := mustPublicKey(t, v.public).Verify(h, []byte(specPayload), ts); err != nil {
			t.Errorf("PublicKey.Verify: %v", err)
		}
		if err := s.Verify(h, []byte(specPayload), ts); err != nil {
			t.Errorf("Signer.Verify: %v", err)
		}
	}
	// Each key verifies only its own signature.
	if err := signature.Verify(vec2PublicKey, headers(specID, specTimestamp, vecSignature), []byte(specPayload), ts, 0); !errors.Is(err, signature.ErrNoMatch) {
		t.Errorf("Verify with the other public key = %v, want ErrNoMatch", err)
	}
}

func TestGenerateSecretKey(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for range 50 {
		sk := signature.GenerateSecretKey()
		if !strings.HasPrefix(sk, "whsk_") || len(sk) != len("whsk_")+88 {
			t.Fatalf("GenerateSecretKey = %q, want whsk_ and 88 base64 characters", sk)
		}
		priv, err := signature.ParseSecretKey(sk)
		if err != nil || len(priv) != ed25519.PrivateKeySize {
			t.Fatalf("ParseSecretKey(GenerateSecretKey()) = %d bytes, %v", len(priv), err)
		}
		pk, err := signature.PublicKeyOf(sk)
		if err != nil || !strings.HasPrefix(pk, "whpk_") || len(pk) != len("whpk_")+44 {
			t.Fatalf("PublicKeyOf = %q, %v", pk, err)
		}
		if signature.SchemeOf(sk) != signature.SchemeV1a {
			t.Fatalf("SchemeOf(%q) = %q", sk, signature.SchemeOf(sk))
		}
		if seen[sk] {
			t.Fatalf("GenerateSecretKey repeated %q", sk)
		}
		seen[sk] = true
	}
	for _, s := range []string{signature.GenerateSecret(), "", "whpk_x", "hunter2"} {
		if got := signature.SchemeOf(s); got != signature.SchemeV1 {
			t.Errorf("SchemeOf(%q) = %q, want v1", s, got)
		}
	}
}

func TestParseSecretKey(t *testing.T) {
	t.Parallel()
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(vecSecretKey, "whsk_"))
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	mismatched := bytes.Clone(raw)
	mismatched[40] ^= 1 // the public half no longer matches the seed
	for _, tt := range []struct {
		name    string
		key     string
		wantErr string // "" when valid
	}{
		{name: "Vector", key: vecSecretKey},
		{name: "Empty", key: "", wantErr: "secret must start with whsk_"},
		{name: "Symmetric", key: specSecret, wantErr: "secret must start with whsk_"},
		{name: "PublicKey", key: vecPublicKey, wantErr: "secret must start with whsk_"},
		{name: "PrefixOnly", key: "whsk_", wantErr: "64-byte ed25519 private key"},
		{name: "Seed", key: "whsk_" + b64(raw[:32]), wantErr: "64-byte ed25519 private key"},
		{name: "TooLong", key: "whsk_" + b64(append(bytes.Clone(raw), 0)), wantErr: "64-byte ed25519 private key"},
		{name: "NotBase64", key: "whsk_!" + vecSecretKey[len("whsk_")+1:], wantErr: "base64"},
		{name: "URLBase64", key: "whsk_" + base64.URLEncoding.EncodeToString(raw), wantErr: "base64"},
		{name: "NoPadding", key: "whsk_" + base64.RawStdEncoding.EncodeToString(raw) + "A", wantErr: "base64"},
		{name: "NonCanonical", key: vecSecretKey[:len(vecSecretKey)-3] + "h==", wantErr: "base64"},
		{name: "Mismatched", key: "whsk_" + b64(mismatched), wantErr: "does not match"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			priv, err := signature.ParseSecretKey(tt.key)
			if tt.wantErr == "" {
				if err != nil || !bytes.Equal(priv, raw) {
					t.Fatalf("ParseSecretKey = %x, %v", priv, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseSecretKey(%q) succeeded, want an error", tt.key)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "secret ") {
				t.Errorf("error %q, want it to start with \"secret \" and contain %q", err, tt.wantErr)
			}
			if body := strings.TrimPrefix(tt.key, "whsk_"); len(body) > 8 && strings.Contains(err.Error(), body[:8]) {
				t.Errorf("error %q quotes the key", err)
			}
			if !errors.Is(err, signature.ErrInvalidSecret) {
				t.Errorf("error %q does not match ErrInvalidSecret", err)
			}
			if strings.HasPrefix(tt.key, "whsk_") {
				if _, err := signature.NewSigner(tt.key); !errors.Is(err, signature.ErrInvalidSecret) {
					t.Errorf("NewSigner error %v, want ErrInvalidSecret", err)
				}
				if _, err := signature.PublicKeyOf(tt.key); !errors.Is(err, signature.ErrInvalidSecret) {
					t.Errorf("PublicKeyOf error %v, want ErrInvalidSecret", err)
				}
			}
		})
	}
}

func TestParsePublicKey(t *testing.T) {
	t.Parallel()
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(vecPublicKey, "whpk_"))
	for _, tt := range []struct {
		name, key, wantErr string
	}{
		{"Vector", vecPublicKey, ""},
		{"Empty", "", "public key must start with whpk_"},
		{"SecretKey", vecSecretKey, "public key must start with whpk_"},
		{"Symmetric", specSecret, "public key must start with whpk_"},
		{"Short", "whpk_" + base64.StdEncoding.EncodeToString(raw[:31]), "32-byte ed25519 public key"},
		{"Long", "whpk_" + base64.StdEncoding.EncodeToString(append(bytes.Clone(raw), 1)), "32-byte ed25519 public key"},
		{"NotBase64", "whpk_" + strings.Repeat("*", 44), "base64"},
		{"NonCanonical", vecPublicKey[:len(vecPublicKey)-2] + "Z=", "base64"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := signature.ParsePublicKey(tt.key)
			if tt.wantErr == "" {
				if err != nil || k.String() != tt.key {
					t.Fatalf("ParsePublicKey = %v, %v", k, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, signature.ErrInvalidSecret) {
				t.Fatalf("ParsePublicKey(%q) = %v, want an ErrInvalidSecret containing %q", tt.key, err, tt.wantErr)
			}
			if !strings.HasPrefix(tt.key, "whpk_") {
				return
			}
			if err := signature.Verify(tt.key, headers(specID, specTimestamp, vecSignature), []byte(specPayload), time.Unix(specTimestamp, 0), 0); !errors.Is(err, signature.ErrInvalidSecret) {
				t.Errorf("Verify with %q = %v, want ErrInvalidSecret", tt.key, err)
			}
		})
	}
}

func TestVerifyV1a(t *testing.T) {
	t.Parallel()
	const (
		id   = "evt_01HZXW3N1Q0000000000000000"
		unix = 1700000000
	)
	payload := []byte(`{"id":"evt_01HZXW3N1Q0000000000000000","type":"invoice.paid","data":{"amount":100}}`)
	s := mustSigner(t, vecSecretKey)
	other := mustSigner(t, vec2SecretKey)
	hmacSigner := mustSigner(t, specSecret)
	at := time.Unix(unix, 0)
	good := s.Sign(id, at, payload)
	sigOnly := strings.TrimPrefix(good, "v1a,")
	flipped := []byte(sigOnly)
	flipped[10] ^= 'A' ^ 'B'
	if flipped[10] == sigOnly[10] {
		flipped[10] = 'A'
	}

	for _, tt := range []struct {
		name   string
		sigs   []string // webhook-signature values
		mod    func(h http.Header, p *[]byte, now *time.Time)
		want   error
		hmacOK bool // the same headers verify for the HMAC secret too
	}{
		{name: "Valid", sigs: []string{good}},
		{name: "NewFirst", sigs: []string{other.Sign(id, at, payload) + " " + good}},
		{name: "NewLast", sigs: []string{good + " " + other.Sign(id, at, payload)}},
		{name: "MixedSchemes", sigs: []string{hmacSigner.Sign(id, at, payload) + " " + good}, hmacOK: true},
		{name: "SeveralHeaderLines", sigs: []string{other.Sign(id, at, payload), good}},
		{name: "Junk", sigs: []string{"v1a, v1a,,, v1a," + strings.Repeat("A", 88) + " v1a," + string(flipped) + " " + good + " "}},
		{name: "TamperedPayload", sigs: []string{good}, mod: func(h http.Header, p *[]byte, now *time.Time) { *p = append(bytes.Clone(*p), ' ') }, want: signature.ErrNoMatch},
		{name: "TamperedID", sigs: []string{good}, mod: func(h http.Header, p *[]byte, now *time.Time) { h.Set(signature.HeaderID, id+"x") }, want: signature.ErrNoMatch},
		{name: "TamperedTimestamp", sigs: []string{good}, mod: func(h http.Header, p *[]byte, now *time.Time) {
			h.Set(signature.HeaderTimestamp, strconv.Itoa(unix+1))
		}, want: signature.ErrNoMatch},
		{name: "FlippedBit", sigs: []string{"v1a," + string(flipped)}, want: signature.ErrNoMatch},
		{name: "WrongKey", sigs: []string{other.Sign(id, at, payload)}, want: signature.ErrNoMatch},
		{name: "AsV1", sigs: []string{"v1," + sigOnly}, want: signature.ErrNoMatch},
		{name: "HMACOnly", sigs: []string{hmacSigner.Sign(id, at, payload)}, want: signature.ErrNoMatch, hmacOK: true},
		{name: "Truncated", sigs: []string{good[:len(good)-1]}, want: signature.ErrNoMatch},
		{name: "Unpadded", sigs: []string{strings.TrimRight(good, "=")}, want: signature.ErrNoMatch},
		{name: "TooOld", sigs: []string{good}, mod: func(h http.Header, p *[]byte, now *time.Time) {
			*now = at.Add(signature.DefaultTolerance + time.Second)
		}, want: signature.ErrTimestamp},
		{name: "MissingSignature", sigs: []string{""}, want: signature.ErrMissingHeaders},
		{name: "MalformedTimestamp", sigs: []string{good}, mod: func(h http.Header, p *[]byte, now *time.Time) {
			h.Set(signature.HeaderTimestamp, "soon")
		}, want: signature.ErrMalformedTimestamp},
		// Only the first eight v1a entries are checked.
		{name: "EighthEntry", sigs: []string{strings.Repeat(other.Sign(id, at, payload)+" ", 7) + good}},
		{name: "NinthEntry", sigs: []string{strings.Repeat(other.Sign(id, at, payload)+" ", 8) + good}, want: signature.ErrNoMatch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := headers(id, unix, "")
			h[http.CanonicalHeaderKey(signature.HeaderSignature)] = tt.sigs
			p, now := payload, at
			if tt.mod != nil {
				tt.mod(h, &p, &now)
			}
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
					t.Errorf("%s = %v, want %v", what, err, tt.want)
				}
			}
			check("PublicKey.Verify", mustPublicKey(t, vecPublicKey).Verify(h, p, now))
			check("Verify(whpk_)", signature.Verify(vecPublicKey, h, p, now, 0))
			check("Verify(whsk_)", signature.Verify(vecSecretKey, h, p, now, 0))
			check("Signer.Verify", s.Verify(h, p, now))
			if err := hmacSigner.Verify(h, p, now); tt.hmacOK != (err == nil) {
				t.Errorf("the HMAC secret's Verify = %v, want success %v", err, tt.hmacOK)
			}
		})
	}
}

func TestAppendSignatures(t *testing.T) {
	t.Parallel()
	ts := time.Unix(specTimestamp, 0)
	current := mustSigner(t, signature.GenerateSecret())
	previous := mustSigner(t, specSecret)
	asym := mustSigner(t, vecSecretKey)
	payload := []byte(specPayload)

	for _, tt := range []struct {
		name    string
		signers []*signature.Signer
		want    string
	}{
		{"None", nil, "x"},
		{"One", []*signature.Signer{previous}, "x" + specSignature},
		{"NilSkipped", []*signature.Signer{nil, previous, nil}, "x" + specSignature},
		{"Two", []*signature.Signer{current, previous}, "x" + current.Sign(specID, ts, payload) + " " + specSignature},
		{"Mixed", []*signature.Signer{asym, previous}, "x" + vecSignature + " " + specSignature},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := string(signature.AppendSignatures([]byte("x"), specID, specTimestamp, payload, tt.signers...))
			if got != tt.want {
				t.Fatalf("AppendSignatures = %q, want %q", got, tt.want)
			}
		})
	}

	// Receivers verify a rotating message with either key, this package
	// and the official library alike.
	sig := string(signature.AppendSignatures(nil, specID, specTimestamp, payload, current, previous))
	h := headers(specID, specTimestamp, sig)
	for _, s := range []*signature.Signer{current, previous} {
		if err := s.Verify(h, payload, ts); err != nil {
			t.Errorf("Verify of %q: %v", sig, err)
		}
	}
	for _, secret := range []string{specSecret} {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.VerifyIgnoringTimestamp(payload, h); err != nil {
			t.Errorf("standardwebhooks rejects %q: %v", sig, err)
		}
	}
	mixed := headers(specID, specTimestamp, string(signature.AppendSignatures(nil, specID, specTimestamp, payload, asym, previous)))
	if err := mustPublicKey(t, vecPublicKey).Verify(mixed, payload, ts); err != nil {
		t.Errorf("public key on a mixed header: %v", err)
	}
	if err := previous.Verify(mixed, payload, ts); err != nil {
		t.Errorf("HMAC secret on a mixed header: %v", err)
	}
}

func TestAppendSignaturesAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	a, b := mustSigner(t, specSecret), mustSigner(t, signature.GenerateSecret())
	payload := bytes.Repeat([]byte("a"), 1024)
	buf := make([]byte, 0, 128)
	for _, tt := range []struct {
		name    string
		signers []*signature.Signer
	}{{"One", []*signature.Signer{a}}, {"Two", []*signature.Signer{a, b}}} {
		allocs := testing.AllocsPerRun(1000, func() {
			buf = signature.AppendSignatures(buf[:0], specID, specTimestamp, payload, tt.signers...)
		})
		if allocs != 0 {
			t.Errorf("%s: AppendSignatures allocates %v times per call, want 0", tt.name, allocs)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		buf = signature.AppendSignatures(buf[:0], specID, specTimestamp, payload, a)
	})
	if allocs != 0 {
		t.Errorf("AppendSignatures of one variadic signer allocates %v times per call, want 0", allocs)
	}
}

func TestAppendSignatureV1aAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	s := mustSigner(t, vecSecretKey)
	payload := bytes.Repeat([]byte("a"), 1024)
	buf := make([]byte, 0, 128)
	allocs := testing.AllocsPerRun(1000, func() {
		buf = s.AppendSignature(buf[:0], specID, specTimestamp, payload)
	})
	if allocs != 0 {
		t.Errorf("v1a AppendSignature allocates %v times per call, want 0", allocs)
	}
	if want := referenceV1a(vecSecretKey, specID, specTimestamp, payload); string(buf) != want {
		t.Errorf("AppendSignature = %q, want %q", buf, want)
	}
}

package signature_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/signature"
)

// The example published with the Standard Webhooks specification.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specPayload   = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// mustSigner returns a Signer for secret or fails the test.
func mustSigner(tb testing.TB, secret string) *signature.Signer {
	tb.Helper()
	s, err := signature.NewSigner(secret)
	if err != nil {
		tb.Fatalf("NewSigner(%q): %v", secret, err)
	}
	return s
}

// headers returns the three headers of a message, as net/http would.
func headers(id string, unix int64, sig string) http.Header {
	h := http.Header{}
	h.Set(signature.HeaderID, id)
	h.Set(signature.HeaderTimestamp, strconv.FormatInt(unix, 10))
	h.Set(signature.HeaderSignature, sig)
	return h
}

// reference computes a signature the obvious way, for comparison.
func reference(key []byte, id string, unix int64, payload []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(unix, 10) + "." + string(payload)))
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestSpecVector(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, specSecret)
	ts := time.Unix(specTimestamp, 0)

	t.Run("Sign", func(t *testing.T) {
		t.Parallel()
		if got := s.Sign(specID, ts, []byte(specPayload)); got != specSignature {
			t.Errorf("Sign = %q, want %q", got, specSignature)
		}
		// Only whole seconds are signed.
		if got := s.Sign(specID, ts.Add(999*time.Millisecond), []byte(specPayload)); got != specSignature {
			t.Errorf("Sign with sub-second time = %q, want %q", got, specSignature)
		}
	})
	t.Run("AppendSignature", func(t *testing.T) {
		t.Parallel()
		got := s.AppendSignature([]byte("prefix:"), specID, specTimestamp, []byte(specPayload))
		if want := "prefix:" + specSignature; string(got) != want {
			t.Errorf("AppendSignature = %q, want %q", got, want)
		}
	})
	t.Run("Verify", func(t *testing.T) {
		t.Parallel()
		h := headers(specID, specTimestamp, specSignature)
		if err := signature.Verify(specSecret, h, []byte(specPayload), ts, 0); err != nil {
			t.Errorf("Verify: %v", err)
		}
		if err := s.Verify(h, []byte(specPayload), ts); err != nil {
			t.Errorf("Signer.Verify: %v", err)
		}
	})
}

func TestGenerateSecret(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for range 100 {
		secret := signature.GenerateSecret()
		if !strings.HasPrefix(secret, "whsec_") || len(secret) != len("whsec_")+32 {
			t.Fatalf("GenerateSecret = %q, want whsec_ and 32 base64 characters", secret)
		}
		key, err := signature.ParseSecret(secret)
		if err != nil {
			t.Fatalf("ParseSecret(GenerateSecret()): %v", err)
		}
		if len(key) != 24 {
			t.Fatalf("key of %d bytes, want 24", len(key))
		}
		if seen[secret] {
			t.Fatalf("GenerateSecret repeated %q", secret)
		}
		seen[secret] = true
	}
}

func TestParseSecret(t *testing.T) {
	t.Parallel()
	b64 := func(n int) string {
		return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xA5}, n))
	}
	for _, tt := range []struct {
		name    string
		secret  string
		keyLen  int    // when valid
		wantErr string // substring of the error; "" when valid
	}{
		{name: "Spec", secret: specSecret, keyLen: 24},
		{name: "Min", secret: "whsec_" + b64(24), keyLen: 24},
		{name: "Padded", secret: "whsec_" + b64(25), keyLen: 25},
		{name: "Max", secret: "whsec_" + b64(64), keyLen: 64},
		{name: "Empty", secret: "", wantErr: "secret must start with whsec_"},
		{name: "NoPrefix", secret: strings.TrimPrefix(specSecret, "whsec_"), wantErr: "secret must start with whsec_"},
		{name: "UpperPrefix", secret: "WHSEC_" + b64(24), wantErr: "secret must start with whsec_"},
		{name: "PrefixOnly", secret: "whsec_", wantErr: "base64"},
		{name: "NotBase64", secret: "whsec_!!!!" + b64(24)[4:], wantErr: "base64"},
		{name: "URLBase64", secret: "whsec_" + strings.NewReplacer("+", "-", "/", "_").Replace(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xFB}, 24))), wantErr: "base64"},
		{name: "MissingPadding", secret: "whsec_" + strings.TrimRight(b64(25), "="), wantErr: "base64"},
		{name: "NonCanonical", secret: "whsec_" + b64(25)[:len(b64(25))-3] + "B==", wantErr: "base64"},
		{name: "Newline", secret: "whsec_" + b64(24)[:16] + "\n" + b64(24)[16:], wantErr: "base64"},
		{name: "Space", secret: "whsec_" + b64(24) + " ", wantErr: "base64"},
		{name: "TooShort", secret: "whsec_" + b64(23), wantErr: "24 to 64 bytes"},
		{name: "TooLong", secret: "whsec_" + b64(65), wantErr: "24 to 64 bytes"},
		{name: "Huge", secret: "whsec_" + b64(1<<16), wantErr: "24 to 64 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key, err := signature.ParseSecret(tt.secret)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseSecret: %v", err)
				}
				if len(key) != tt.keyLen {
					t.Errorf("key of %d bytes, want %d", len(key), tt.keyLen)
				}
				if _, err := signature.NewSigner(tt.secret); err != nil {
					t.Errorf("NewSigner: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseSecret(%q) succeeded, want an error", tt.secret)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
			// The API shows these messages, after "secret", to the person who
			// sent the secret: no package prefix, and never the secret itself.
			if !strings.HasPrefix(err.Error(), "secret ") {
				t.Errorf("error %q does not start with \"secret \"", err)
			}
			if body := strings.TrimPrefix(tt.secret, "whsec_"); len(body) > 4 && strings.Contains(err.Error(), body) {
				t.Errorf("error %q quotes the secret", err)
			}
			if !errors.Is(err, signature.ErrInvalidSecret) {
				t.Errorf("error %q does not match ErrInvalidSecret", err)
			}
			if _, err := signature.NewSigner(tt.secret); !errors.Is(err, signature.ErrInvalidSecret) {
				t.Errorf("NewSigner error %v, want ErrInvalidSecret", err)
			}
			if err := signature.Verify(tt.secret, http.Header{}, nil, time.Now(), 0); !errors.Is(err, signature.ErrInvalidSecret) {
				t.Errorf("Verify error %v, want ErrInvalidSecret", err)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	const (
		id   = "evt_01HZXW3N1Q0000000000000000"
		unix = 1700000000
	)
	payload := []byte(`{"id":"evt_01HZXW3N1Q0000000000000000","type":"invoice.paid","data":{"amount":100}}`)
	s := mustSigner(t, specSecret)
	other := mustSigner(t, signature.GenerateSecret())
	good := s.Sign(id, time.Unix(unix, 0), payload)
	sigOnly := strings.TrimPrefix(good, "v1,")
	at := time.Unix(unix, 0)

	type setup struct {
		h       http.Header
		payload []byte
		now     time.Time
	}
	for _, tt := range []struct {
		name   string
		modify func(*setup)
		want   error // nil for success
	}{
		{name: "Valid"},
		{name: "ValidSubSecondNow", modify: func(c *setup) { c.now = at.Add(999 * time.Millisecond) }},
		{name: "LowerCaseKeys", modify: func(c *setup) {
			c.h = http.Header{"webhook-id": {id}, "webhook-timestamp": {strconv.Itoa(unix)}, "webhook-signature": {good}}
		}},
		{name: "TamperedPayload", modify: func(c *setup) { c.payload = bytes.Replace(payload, []byte("100"), []byte("900"), 1) }, want: signature.ErrNoMatch},
		{name: "PayloadAppended", modify: func(c *setup) { c.payload = append(bytes.Clone(payload), ' ') }, want: signature.ErrNoMatch},
		{name: "PayloadEmpty", modify: func(c *setup) { c.payload = nil }, want: signature.ErrNoMatch},
		{name: "TamperedID", modify: func(c *setup) { c.h.Set(signature.HeaderID, id+"x") }, want: signature.ErrNoMatch},
		{name: "TamperedTimestamp", modify: func(c *setup) { c.h.Set(signature.HeaderTimestamp, strconv.Itoa(unix+1)) }, want: signature.ErrNoMatch},
		{name: "WrongKey", modify: func(c *setup) { c.h.Set(signature.HeaderSignature, other.Sign(id, at, payload)) }, want: signature.ErrNoMatch},
		{name: "AtToleranceInPast", modify: func(c *setup) { c.now = at.Add(signature.DefaultTolerance) }},
		{name: "AtToleranceInFuture", modify: func(c *setup) { c.now = at.Add(-signature.DefaultTolerance) }},
		{name: "TooOld", modify: func(c *setup) { c.now = at.Add(signature.DefaultTolerance + time.Second) }, want: signature.ErrTimestamp},
		{name: "TooNew", modify: func(c *setup) { c.now = at.Add(-signature.DefaultTolerance - time.Second) }, want: signature.ErrTimestamp},
		{name: "FarFuture", modify: func(c *setup) {
			c.h.Set(signature.HeaderTimestamp, "9223372036854775807")
			c.h.Set(signature.HeaderSignature, s.Sign(id, time.Unix(1<<63-1, 0), payload))
		}, want: signature.ErrTimestamp},
		{name: "FarPast", modify: func(c *setup) {
			c.h.Set(signature.HeaderTimestamp, "-9223372036854775808")
		}, want: signature.ErrTimestamp},
		{name: "ZeroNow", modify: func(c *setup) { c.now = time.Time{} }, want: signature.ErrTimestamp},
		{name: "MissingID", modify: func(c *setup) { c.h.Del(signature.HeaderID) }, want: signature.ErrMissingHeaders},
		{name: "MissingTimestamp", modify: func(c *setup) { c.h.Del(signature.HeaderTimestamp) }, want: signature.ErrMissingHeaders},
		{name: "MissingSignature", modify: func(c *setup) { c.h.Del(signature.HeaderSignature) }, want: signature.ErrMissingHeaders},
		{name: "EmptySignature", modify: func(c *setup) { c.h.Set(signature.HeaderSignature, "") }, want: signature.ErrMissingHeaders},
		{name: "NilHeader", modify: func(c *setup) { c.h = nil }, want: signature.ErrMissingHeaders},
		{name: "TimestampNotNumber", modify: func(c *setup) { c.h.Set(signature.HeaderTimestamp, "yesterday") }, want: signature.ErrMalformedTimestamp},
		{name: "TimestampFraction", modify: func(c *setup) { c.h.Set(signature.HeaderTimestamp, "1700000000.5") }, want: signature.ErrMalformedTimestamp},
		{name: "TimestampOverflow", modify: func(c *setup) { c.h.Set(signature.HeaderTimestamp, "99999999999999999999") }, want: signature.ErrMalformedTimestamp},
		{name: "TimestampMillis", modify: func(c *setup) { c.h.Set(signature.HeaderTimestamp, strconv.Itoa(unix*1000)) }, want: signature.ErrTimestamp},
		{name: "RotationNewFirst", modify: func(c *setup) {
			c.h.Set(signature.HeaderSignature, other.Sign(id, at, payload)+" "+good)
		}},
		{name: "RotationNewLast", modify: func(c *setup) {
			c.h.Set(signature.HeaderSignature, good+" "+other.Sign(id, at, payload))
		}},
		{name: "ManySignatures", modify: func(c *setup) {
			c.h.Set(signature.HeaderSignature, "v1,bm90IGEgc2lnbmF0dXJl v1a,"+sigOnly+" garbage v1, ,, "+good+"  ")
		}},
		{name: "SeveralHeaderLines", modify: func(c *setup) {
			c.h.Set(signature.HeaderSignature, other.Sign(id, at, payload))
			c.h.Add(signature.HeaderSignature, good)
		}},
		{name: "OtherVersionsIgnored", modify: func(c *setup) {
			c.h.Set(signature.HeaderSignature, "v1a,"+sigOnly+" v2,"+sigOnly+" V1,"+sigOnly+" ,"+sigOnly)
		}, want: signature.ErrNoMatch},
		{name: "NoVersion", modify: func(c *setup) { c.h.Set(signature.HeaderSignature, sigOnly) }, want: signature.ErrNoMatch},
		{name: "Truncated", modify: func(c *setup) { c.h.Set(signature.HeaderSignature, good[:len(good)-1]) }, want: signature.ErrNoMatch},
		{name: "Extended", modify: func(c *setup) { c.h.Set(signature.HeaderSignature, good+"A") }, want: signature.ErrNoMatch},
		{name: "RawNotBase64", modify: func(c *setup) {
			mac := hmac.New(sha256.New, []byte("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
			c.h.Set(signature.HeaderSignature, "v1,"+string(mac.Sum(nil)))
		}, want: signature.ErrNoMatch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := setup{h: headers(id, unix, good), payload: payload, now: at}
			if tt.modify != nil {
				tt.modify(&c)
			}
			err := s.Verify(c.h, c.payload, c.now)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("Signer.Verify = %v, want %v", err, tt.want)
			}
			err = signature.Verify(specSecret, c.h, c.payload, c.now, signature.DefaultTolerance)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyTolerance(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, specSecret)
	at := time.Unix(specTimestamp, 0)
	h := headers(specID, specTimestamp, specSignature)
	for _, tt := range []struct {
		name      string
		offset    time.Duration // now - timestamp
		tolerance time.Duration
		want      error
	}{
		{"ZeroMeansDefaultInside", 5 * time.Minute, 0, nil},
		{"ZeroMeansDefaultOutside", 5*time.Minute + time.Second, 0, signature.ErrTimestamp},
		{"NegativeMeansDefault", -5 * time.Minute, -time.Second, nil},
		{"WiderInside", time.Hour, time.Hour, nil},
		{"WiderFutureInside", -time.Hour, time.Hour, nil},
		{"NarrowOld", 11 * time.Second, 10 * time.Second, signature.ErrTimestamp},
		{"NarrowNew", -11 * time.Second, 10 * time.Second, signature.ErrTimestamp},
		{"NarrowEdge", 10 * time.Second, 10 * time.Second, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := signature.Verify(specSecret, h, []byte(specPayload), at.Add(tt.offset), tt.tolerance)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("MessageSaysWhichWay", func(t *testing.T) {
		t.Parallel()
		if err := s.Verify(h, []byte(specPayload), at.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "1h0m0s old") {
			t.Errorf("old message: error %v, want it to say 1h0m0s old", err)
		}
		if err := s.Verify(h, []byte(specPayload), at.Add(-time.Hour)); err == nil || !strings.Contains(err.Error(), "in the future") {
			t.Errorf("future message: error %v, want it to say in the future", err)
		}
	})
}

func TestSignMatchesReference(t *testing.T) {
	t.Parallel()
	secret := signature.GenerateSecret()
	key, _ := signature.ParseSecret(secret)
	s := mustSigner(t, secret)
	long := strings.Repeat("id-longer-than-the-scratch-buffer-", 10)
	for _, tt := range []struct {
		id      string
		unix    int64
		payload []byte
	}{
		{"msg_1", 0, nil},
		{"msg_1", -1, []byte("{}")},
		{"", 1, []byte("x")},
		{long, 1 << 62, bytes.Repeat([]byte("payload "), 1000)},
		{"ünï\x00cødé", 1700000000, []byte{0, 1, 2, 0xff}},
	} {
		if got, want := s.Sign(tt.id, time.Unix(tt.unix, 0), tt.payload), reference(key, tt.id, tt.unix, tt.payload); got != want {
			t.Errorf("Sign(%.20q, %d) = %q, want %q", tt.id, tt.unix, got, want)
		}
	}
}

func TestAppendSignatureAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	s := mustSigner(t, specSecret)
	payload := bytes.Repeat([]byte("a"), 1024)
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(1000, func() {
		buf = s.AppendSignature(buf[:0], specID, specTimestamp, payload)
	})
	if allocs != 0 {
		t.Errorf("AppendSignature allocates %v times per call, want 0", allocs)
	}
	key, _ := signature.ParseSecret(specSecret)
	if want := reference(key, specID, specTimestamp, payload); string(buf) != want {
		t.Errorf("AppendSignature = %q, want %q", buf, want)
	}
}

func TestSignerConcurrent(t *testing.T) {
	t.Parallel()
	s := mustSigner(t, specSecret)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			var buf []byte
			for i := range 500 {
				id := specID
				if (g+i)%2 == 0 {
					id = "msg_other"
				}
				buf = s.AppendSignature(buf[:0], id, specTimestamp, []byte(specPayload))
				if id == specID && string(buf) != specSignature {
					t.Errorf("concurrent AppendSignature = %q, want %q", buf, specSignature)
					return
				}
				if err := s.Verify(headers(id, specTimestamp, string(buf)), []byte(specPayload), time.Unix(specTimestamp, 0)); err != nil {
					t.Errorf("concurrent Verify: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestCanonicalHeaderNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{signature.HeaderID, signature.HeaderTimestamp, signature.HeaderSignature} {
		h := http.Header{}
		h.Set(name, "x")
		for k := range h {
			if strings.ToLower(k) != name {
				t.Errorf("%s canonicalises to %s", name, k)
			}
		}
	}
}

func TestVerifyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	s := mustSigner(t, specSecret)
	h := headers(specID, specTimestamp, "v2,x "+specSignature)
	at := time.Unix(specTimestamp, 0)
	payload := []byte(specPayload)
	allocs := testing.AllocsPerRun(1000, func() {
		if err := s.Verify(h, payload, at); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Verify of a good message allocates %v times, want 0", allocs)
	}
}

func TestSigLen(t *testing.T) {
	t.Parallel()
	if n := len(strings.TrimPrefix(signature.GenerateSecret(), "whsec_")); n != base64.StdEncoding.EncodedLen(24) {
		t.Errorf("secret of %d base64 characters", n)
	}
	if got := len(mustSigner(t, specSecret).Sign("", time.Time{}, nil)); got != len("v1,")+base64.StdEncoding.EncodedLen(sha256.Size) {
		t.Errorf("signature of %d characters", got)
	}
}

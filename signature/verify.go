package signature

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how far a message's timestamp may be from the
// receiver's clock, either way, for [Signer.Verify], and for [Verify] when its
// tolerance is not positive.
const DefaultTolerance = 5 * time.Minute

// The errors of verification. A returned error matches exactly one of them
// (or [ErrInvalidSecret]) with [errors.Is]; its text may add detail.
var (
	// ErrMissingHeaders: webhook-id, webhook-timestamp or webhook-signature
	// is absent or empty.
	ErrMissingHeaders = errors.New("signature: missing webhook-id, webhook-timestamp or webhook-signature header")
	// ErrMalformedTimestamp: webhook-timestamp is not an integer.
	ErrMalformedTimestamp = errors.New("signature: webhook-timestamp is not a Unix time in seconds")
	// ErrTimestamp: the timestamp is further than the tolerance from now,
	// in the past or the future.
	ErrTimestamp = errors.New("signature: webhook-timestamp outside the tolerance")
	// ErrNoMatch: no v1 entry of webhook-signature matches the message.
	ErrNoMatch = errors.New("signature: no matching signature")
)

// maxUnix bounds timestamps before they become a time.Time, so that absurd
// values cannot overflow; anything above it is far in the future anyway.
const maxUnix = 1 << 40

// Verify checks that the request with headers h and body payload was signed
// with secret, at a time within tolerance of now (DefaultTolerance when
// tolerance is not positive). It returns nil when it was; otherwise an error
// matching one of ErrMissingHeaders, ErrMalformedTimestamp, ErrTimestamp,
// ErrNoMatch or ErrInvalidSecret.
//
// payload must be the raw request body, byte for byte. webhook-timestamp is
// read as a decimal integer, as the official libraries read it. Entries of
// webhook-signature other than v1 are ignored; any matching v1 entry is
// enough. Verify never panics, whatever the headers and payload. A receiver
// that verifies many requests should make a [Signer] once instead.
func Verify(secret string, h http.Header, payload []byte, now time.Time, tolerance time.Duration) error {
	s, err := NewSigner(secret)
	if err != nil {
		return err
	}
	return s.verify(h, payload, now, tolerance)
}

// Verify is [Verify] with the Signer's secret and DefaultTolerance.
func (s *Signer) Verify(h http.Header, payload []byte, now time.Time) error {
	return s.verify(h, payload, now, DefaultTolerance)
}

func (s *Signer) verify(h http.Header, payload []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	msgID := header(h, canonicalID, HeaderID)
	tsText := header(h, canonicalTimestamp, HeaderTimestamp)
	sigs := h[canonicalSignature]
	if len(sigs) == 0 {
		sigs = h[HeaderSignature]
	}
	if msgID == "" || tsText == "" || len(sigs) == 0 || (len(sigs) == 1 && sigs[0] == "") {
		return ErrMissingHeaders
	}

	unix, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return ErrMalformedTimestamp
	}
	ts := time.Unix(min(max(unix, -maxUnix), maxUnix), 0)
	// Sub saturates, so compare each way rather than negate one difference.
	if age := now.Sub(ts); age > tolerance {
		return fmt.Errorf("%w: %s old", ErrTimestamp, age.Truncate(time.Second))
	}
	if ahead := ts.Sub(now); ahead > tolerance {
		return fmt.Errorf("%w: %s in the future", ErrTimestamp, ahead.Truncate(time.Second))
	}

	var want [48]byte
	expected := s.AppendSignature(want[:0], msgID, unix, payload)[len("v1,"):]

	// Every entry is compared in constant time, and the loop does not stop
	// early, so timing says nothing about which entry matched.
	var cand [48]byte
	match := 0
	for _, v := range sigs {
		for entry := range strings.FieldsSeq(v) {
			version, sig, ok := strings.Cut(entry, ",")
			if !ok || version != "v1" || len(sig) != sigLen {
				continue
			}
			n := copy(cand[:], sig)
			match |= subtle.ConstantTimeCompare(expected, cand[:n])
		}
	}
	if match != 1 {
		return ErrNoMatch
	}
	return nil
}

// The header names as net/http stores them, looked up directly because
// http.Header.Get would allocate to canonicalise the lower-case names.
const (
	canonicalID        = "Webhook-Id"
	canonicalTimestamp = "Webhook-Timestamp"
	canonicalSignature = "Webhook-Signature"
)

// header returns the first value of a header, looked up under its canonical
// name and then as the specification writes it, for headers built by hand.
func header(h http.Header, canonical, lower string) string {
	if vs := h[canonical]; len(vs) > 0 && vs[0] != "" {
		return vs[0]
	}
	if vs := h[lower]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

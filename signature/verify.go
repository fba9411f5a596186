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
	// ErrNoMatch: no entry of webhook-signature of the key's scheme (v1 or
	// v1a) matches the message.
	ErrNoMatch = errors.New("signature: no matching signature")
)

// maxUnix bounds timestamps before they become a time.Time, so that absurd
// values cannot overflow; anything above it is far in the future anyway.
const maxUnix = 1 << 40

// Verify checks that the request with headers h and body payload was signed
// with key, at a time within tolerance of now (DefaultTolerance when
// tolerance is not positive). key is the endpoint's "whsec_" secret (v1
// signatures are checked), or its "whpk_" public key (v1a signatures are
// checked; a "whsk_" secret key is accepted too, for its public key). It
// returns nil when it was; otherwise an error matching one of
// ErrMissingHeaders, ErrMalformedTimestamp, ErrTimestamp, ErrNoMatch or
// ErrInvalidSecret.
//
// payload must be the raw request body, byte for byte. webhook-timestamp is
// read as a decimal integer, as the official libraries read it. Entries of
// webhook-signature of the other scheme, or of other versions, are ignored;
// any matching entry is enough. Verify never panics, whatever the headers and
// payload. A receiver that verifies many requests should make a [Signer] or
// a [PublicKey] once instead.
func Verify(key string, h http.Header, payload []byte, now time.Time, tolerance time.Duration) error {
	if strings.HasPrefix(key, PublicKeyPrefix) {
		k, err := ParsePublicKey(key)
		if err != nil {
			return err
		}
		return k.verify(h, payload, now, tolerance)
	}
	s, err := NewSigner(key)
	if err != nil {
		return err
	}
	return s.verify(h, payload, now, tolerance)
}

// Verify is [Verify] with the Signer's secret and DefaultTolerance: a v1a
// Signer checks v1a entries with its public key.
func (s *Signer) Verify(h http.Header, payload []byte, now time.Time) error {
	return s.verify(h, payload, now, DefaultTolerance)
}

func (s *Signer) verify(h http.Header, payload []byte, now time.Time, tolerance time.Duration) error {
	if s.pub != nil {
		return s.pub.verify(h, payload, now, tolerance)
	}
	msgID, unix, sigs, err := checkHeaders(h, now, tolerance)
	if err != nil {
		return err
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
			if !ok || version != SchemeV1 || len(sig) != sigLen {
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

// checkHeaders reads the three headers of a message and checks its
// timestamp against now, within tolerance (DefaultTolerance when not
// positive). It returns the message ID, the timestamp and the values of
// webhook-signature.
func checkHeaders(h http.Header, now time.Time, tolerance time.Duration) (msgID string, unix int64, sigs []string, err error) {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	msgID = header(h, canonicalID, HeaderID)
	tsText := header(h, canonicalTimestamp, HeaderTimestamp)
	sigs = h[canonicalSignature]
	if len(sigs) == 0 {
		sigs = h[HeaderSignature]
	}
	if msgID == "" || tsText == "" || len(sigs) == 0 || (len(sigs) == 1 && sigs[0] == "") {
		return "", 0, nil, ErrMissingHeaders
	}

	unix, err = strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return "", 0, nil, ErrMalformedTimestamp
	}
	ts := time.Unix(min(max(unix, -maxUnix), maxUnix), 0)
	// Sub saturates, so compare each way rather than negate one difference.
	if age := now.Sub(ts); age > tolerance {
		return "", 0, nil, fmt.Errorf("%w: %s old", ErrTimestamp, age.Truncate(time.Second))
	}
	if ahead := ts.Sub(now); ahead > tolerance {
		return "", 0, nil, fmt.Errorf("%w: %s in the future", ErrTimestamp, ahead.Truncate(time.Second))
	}
	return msgID, unix, sigs, nil
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

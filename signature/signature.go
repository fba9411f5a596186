// Package signature signs and verifies webhooks by the Standard Webhooks
// scheme (https://www.standardwebhooks.com). Hookline's delivery engine signs
// every attempt with it, and receivers can import it to verify what they get;
// it depends on the standard library only.
//
// # The scheme
//
// Every endpoint has a secret: "whsec_" followed by the standard base64 of 24
// to 64 random key bytes. Each request carries three headers:
//
//	webhook-id:        the message ID, the same for every attempt of a message
//	webhook-timestamp: the Unix time of the attempt, in seconds
//	webhook-signature: one or more space-separated "v1,<signature>" entries
//
// A v1 signature is the standard base64 of
//
//	HMAC-SHA256(key, webhook-id + "." + webhook-timestamp + "." + body)
//
// A receiver recomputes it over the raw request body, accepts the request when
// any v1 entry matches (so a sender can sign with an old and a new key while
// keys rotate), and rejects timestamps too far from its own clock, which
// bounds replays of captured requests.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strconv"
	"sync"
	"time"
)

// The header names of the scheme, in the lower case the specification uses.
// [net/http.Header] methods canonicalise them.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// sigLen is the length of the base64 of an HMAC-SHA256 sum (32 bytes).
const sigLen = 44

// Signer signs and verifies messages with one secret. It is safe for
// concurrent use; make one per secret and keep it, since making it parses
// the secret and signing reuses keyed hashes. The zero Signer is not usable.
type Signer struct {
	key  []byte
	pool sync.Pool // of *macState
}

// macState is a keyed HMAC with scratch space, so that signing allocates
// nothing once the pool is warm.
type macState struct {
	mac hash.Hash
	buf [64]byte
	sum [sha256.Size]byte
}

// NewSigner returns a Signer for secret, which must be a valid "whsec_"
// secret (see [ParseSecret]). The error matches [ErrInvalidSecret] and its
// message is written for a person.
func NewSigner(secret string) (*Signer, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return nil, err
	}
	s := &Signer{key: key}
	s.pool.New = func() any { return &macState{mac: hmac.New(sha256.New, s.key)} }
	return s, nil
}

// Sign returns the webhook-signature header value for a message sent at ts:
// "v1," followed by the base64 signature. Only the Unix seconds of ts count.
func (s *Signer) Sign(msgID string, ts time.Time, payload []byte) string {
	var buf [48]byte
	return string(s.AppendSignature(buf[:0], msgID, ts.Unix(), payload))
}

// AppendSignature appends to dst the webhook-signature header value for a
// message sent at unix seconds, and returns the extended slice. It is the
// allocation-free form of [Signer.Sign]: with a dst that has 47 bytes of
// spare capacity it allocates nothing once the Signer is warm.
func (s *Signer) AppendSignature(dst []byte, msgID string, unix int64, payload []byte) []byte {
	st := s.pool.Get().(*macState)
	sum := s.sum(st, msgID, unix, payload)
	dst = append(dst, "v1,"...)
	dst = base64.StdEncoding.AppendEncode(dst, sum)
	s.pool.Put(st)
	return dst
}

// sum computes the raw signature into st.sum and returns it. The message
// parts are written into the hash one by one, never concatenated.
func (s *Signer) sum(st *macState, msgID string, unix int64, payload []byte) []byte {
	st.mac.Reset()
	for rest := msgID; len(rest) > 0; {
		n := copy(st.buf[:], rest)
		st.mac.Write(st.buf[:n])
		rest = rest[n:]
	}
	b := append(st.buf[:0], '.')
	b = strconv.AppendInt(b, unix, 10)
	b = append(b, '.')
	st.mac.Write(b)
	st.mac.Write(payload)
	return st.mac.Sum(st.sum[:0])
}

// Package signature signs and verifies webhooks by the Standard Webhooks
// scheme (https://www.standardwebhooks.com). Hookline's delivery engine signs
// every attempt with it, and receivers can import it to verify what they get;
// it depends on the standard library only.
//
// # The scheme
//
// Every endpoint has a secret of one of two schemes. Each request carries
// three headers:
//
//	webhook-id:        the message ID, the same for every attempt of a message
//	webhook-timestamp: the Unix time of the attempt, in seconds
//	webhook-signature: one or more space-separated "<scheme>,<signature>" entries
//
// The signed content is webhook-id + "." + webhook-timestamp + "." + body.
//
//   - v1 (symmetric): the secret is "whsec_" followed by the standard base64
//     of 24 to 64 random key bytes, shared by sender and receiver; a v1
//     signature is the standard base64 of HMAC-SHA256(key, content).
//   - v1a (asymmetric): the sender holds a secret key, "whsk_" followed by
//     the standard base64 of a 64-byte ed25519 private key; receivers hold
//     only its public key, "whpk_" followed by the standard base64 of 32
//     bytes ([PublicKeyOf]); a v1a signature is the standard base64 of the
//     ed25519 signature of the content.
//
// A receiver recomputes or checks the signature over the raw request body,
// accepts the request when any entry of its scheme matches (so a sender can
// sign with an old and a new key while keys rotate: [AppendSignatures]), and
// rejects timestamps too far from its own clock, which bounds replays of
// captured requests.
package signature

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strconv"
	"strings"
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

// Signer signs and verifies messages with one secret: a "whsec_" secret (v1)
// or a "whsk_" secret key (v1a). It is safe for concurrent use; make one per
// secret and keep it, since making it parses the secret and signing reuses
// keyed hashes and buffers. The zero Signer is not usable.
type Signer struct {
	key  []byte             // v1: the HMAC key
	priv ed25519.PrivateKey // v1a: the private key; nil for v1
	pub  *PublicKey         // v1a: its public key
	pool sync.Pool          // of *macState (v1) or *msgBuf (v1a)
}

// macState is a keyed HMAC with scratch space, so that signing allocates
// nothing once the pool is warm.
type macState struct {
	mac hash.Hash
	buf [64]byte
	sum [sha256.Size]byte
}

// NewSigner returns a Signer for secret, which must be a valid "whsec_"
// secret (see [ParseSecret]) or "whsk_" secret key (see [ParseSecretKey]).
// The error matches [ErrInvalidSecret] and its message is written for a
// person.
func NewSigner(secret string) (*Signer, error) {
	if strings.HasPrefix(secret, SecretKeyPrefix) {
		priv, err := ParseSecretKey(secret)
		if err != nil {
			return nil, err
		}
		s := &Signer{priv: priv, pub: newPublicKey(priv.Public().(ed25519.PublicKey))}
		s.pool.New = func() any { return new(msgBuf) }
		return s, nil
	}
	if strings.HasPrefix(secret, PublicKeyPrefix) {
		return nil, secretError("secret must be the " + SecretKeyPrefix + " secret key, not its " + PublicKeyPrefix + " public key, which cannot sign")
	}
	if !strings.HasPrefix(secret, SecretPrefix) {
		return nil, secretError("secret must start with " + SecretPrefix + " (v1) or " + SecretKeyPrefix + " (v1a)")
	}
	key, err := ParseSecret(secret)
	if err != nil {
		return nil, err
	}
	s := &Signer{key: key}
	s.pool.New = func() any { return &macState{mac: hmac.New(sha256.New, s.key)} }
	return s, nil
}

// Scheme returns the Signer's scheme: SchemeV1 or SchemeV1a.
func (s *Signer) Scheme() string {
	if s.priv != nil {
		return SchemeV1a
	}
	return SchemeV1
}

// PublicKey returns the "whpk_" public key of a v1a Signer, which receivers
// verify with, and "" for a v1 Signer.
func (s *Signer) PublicKey() string {
	if s.pub == nil {
		return ""
	}
	return s.pub.String()
}

// Sign returns the webhook-signature header value for a message sent at ts:
// "v1," (or "v1a,") followed by the base64 signature. Only the Unix seconds
// of ts count.
func (s *Signer) Sign(msgID string, ts time.Time, payload []byte) string {
	var buf [sigLenV1a + 4]byte
	return string(s.AppendSignature(buf[:0], msgID, ts.Unix(), payload))
}

// AppendSignature appends to dst the webhook-signature header value for a
// message sent at unix seconds, and returns the extended slice. It is the
// allocation-free form of [Signer.Sign]: for a v1 Signer, with a dst that has
// 47 bytes of spare capacity, it allocates nothing once the Signer is warm (a
// v1a signature takes 92 bytes).
func (s *Signer) AppendSignature(dst []byte, msgID string, unix int64, payload []byte) []byte {
	if s.priv != nil {
		return s.appendV1a(dst, msgID, unix, payload)
	}
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

// AppendSignatures appends to dst the webhook-signature header value of a
// message signed by each of signers in turn, space-separated, and returns
// the extended slice: during a key rotation, the current key first and then
// the previous one, so that receivers verify with either. Nil signers are
// skipped. Signers of both schemes may be mixed. With one signer it is
// [Signer.AppendSignature]; like it, it allocates nothing for v1 signers
// once they are warm, when dst has room for every signature (47 bytes each,
// 92 for v1a, and a space between two).
func AppendSignatures(dst []byte, msgID string, unix int64, payload []byte, signers ...*Signer) []byte {
	first := true
	for _, s := range signers {
		if s == nil {
			continue
		}
		if !first {
			dst = append(dst, ' ')
		}
		first = false
		dst = s.AppendSignature(dst, msgID, unix, payload)
	}
	return dst
}

package signature

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The prefixes of the keys of the asymmetric scheme (v1a).
const (
	// SecretKeyPrefix starts a secret key: "whsk_" followed by the standard
	// base64 of a 64-byte ed25519 private key (its 32-byte seed, then its
	// 32-byte public key). Only the sender holds it.
	SecretKeyPrefix = "whsk_"
	// PublicKeyPrefix starts a public key: "whpk_" followed by the standard
	// base64 of a 32-byte ed25519 public key. Receivers verify with it.
	PublicKeyPrefix = "whpk_"
)

// The signature schemes, named as their entries of webhook-signature are.
const (
	// SchemeV1 is HMAC-SHA256 with a shared "whsec_" secret.
	SchemeV1 = "v1"
	// SchemeV1a is ed25519 with a "whsk_" secret key; receivers hold only
	// its "whpk_" public key.
	SchemeV1a = "v1a"
)

// Sizes of the base64 of ed25519 values, padded.
const (
	secretKeyLen = 88 // of a 64-byte private key
	publicKeyLen = 44 // of a 32-byte public key
	sigLenV1a    = 88 // of a 64-byte signature
)

// maxV1aEntries bounds the v1a entries of one webhook-signature that are
// checked: each costs an ed25519 verification, and a sender signs with at
// most a current and a previous key.
const maxV1aEntries = 8

// SchemeOf returns the scheme a secret signs with: SchemeV1a for a "whsk_"
// secret key, SchemeV1 for anything else. It does not check the secret.
func SchemeOf(secret string) string {
	if strings.HasPrefix(secret, SecretKeyPrefix) {
		return SchemeV1a
	}
	return SchemeV1
}

// GenerateSecretKey returns a new random ed25519 secret key: "whsk_"
// followed by the standard base64 of its 64-byte private key.
func GenerateSecretKey() string {
	_, priv, _ := ed25519.GenerateKey(rand.Reader) // never fails with crypto/rand
	return SecretKeyPrefix + base64.StdEncoding.EncodeToString(priv)
}

// ParseSecretKey returns the ed25519 private key of a "whsk_" secret key.
// The key's public half must be the one its seed derives. Its errors match
// [ErrInvalidSecret] and are written for a person, such as "secret must be
// standard base64 after whsk_"; they never quote the key.
func ParseSecretKey(s string) (ed25519.PrivateKey, error) {
	b64, ok := strings.CutPrefix(s, SecretKeyPrefix)
	if !ok {
		return nil, secretError("secret must start with " + SecretKeyPrefix)
	}
	sizeErr := secretError(fmt.Sprintf("secret must be the standard base64 of a %d-byte ed25519 private key after %s", ed25519.PrivateKeySize, SecretKeyPrefix))
	if len(b64) != secretKeyLen {
		return nil, sizeErr
	}
	var raw [ed25519.PrivateKeySize + 2]byte
	n, err := base64.StdEncoding.Strict().Decode(raw[:], []byte(b64))
	if err != nil || strings.ContainsAny(b64, "\r\n") {
		return nil, secretError("secret must be standard base64 after " + SecretKeyPrefix)
	} else if n != ed25519.PrivateKeySize {
		return nil, sizeErr
	}
	priv := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
	if !bytes.Equal(priv[ed25519.SeedSize:], raw[ed25519.SeedSize:n]) {
		return nil, secretError("secret holds an ed25519 private key whose public half does not match its seed")
	}
	return priv, nil
}

// PublicKeyOf returns the "whpk_" public key of a "whsk_" secret key, the
// key receivers verify with. Its errors are those of [ParseSecretKey].
func PublicKeyOf(secretKey string) (string, error) {
	priv, err := ParseSecretKey(secretKey)
	if err != nil {
		return "", err
	}
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)), nil
}

// PublicKey verifies v1a signatures with an endpoint's "whpk_" public key.
// It is safe for concurrent use; make one per key and keep it.
type PublicKey struct {
	key  ed25519.PublicKey
	text string
	pool sync.Pool // of *msgBuf
}

// ParsePublicKey returns the PublicKey of a "whpk_" key: the prefix, then
// the standard base64 of a 32-byte ed25519 public key. Its errors match
// [ErrInvalidSecret] and are written for a person.
func ParsePublicKey(s string) (*PublicKey, error) {
	b64, ok := strings.CutPrefix(s, PublicKeyPrefix)
	if !ok {
		return nil, secretError("public key must start with " + PublicKeyPrefix)
	}
	sizeErr := secretError(fmt.Sprintf("public key must be the standard base64 of a %d-byte ed25519 public key after %s", ed25519.PublicKeySize, PublicKeyPrefix))
	if len(b64) != publicKeyLen {
		return nil, sizeErr
	}
	var raw [ed25519.PublicKeySize + 2]byte
	n, err := base64.StdEncoding.Strict().Decode(raw[:], []byte(b64))
	if err != nil || strings.ContainsAny(b64, "\r\n") {
		return nil, secretError("public key must be standard base64 after " + PublicKeyPrefix)
	} else if n != ed25519.PublicKeySize {
		return nil, sizeErr
	}
	return newPublicKey(ed25519.PublicKey(bytes.Clone(raw[:n]))), nil
}

func newPublicKey(key ed25519.PublicKey) *PublicKey {
	k := &PublicKey{key: key, text: PublicKeyPrefix + base64.StdEncoding.EncodeToString(key)}
	k.pool.New = func() any { return new(msgBuf) }
	return k
}

// String returns the key as "whpk_" and its base64.
func (k *PublicKey) String() string { return k.text }

// Verify checks that the request with headers h and body payload carries a
// v1a signature by this key's secret key, made at a time within
// DefaultTolerance of now. It returns nil when it does; otherwise an error
// matching one of ErrMissingHeaders, ErrMalformedTimestamp, ErrTimestamp or
// ErrNoMatch. Entries of webhook-signature other than v1a are ignored, and
// so are v1a entries past the eighth.
func (k *PublicKey) Verify(h http.Header, payload []byte, now time.Time) error {
	return k.verify(h, payload, now, DefaultTolerance)
}

func (k *PublicKey) verify(h http.Header, payload []byte, now time.Time, tolerance time.Duration) error {
	msgID, unix, sigs, err := checkHeaders(h, now, tolerance)
	if err != nil {
		return err
	}
	if !k.match(sigs, msgID, unix, payload) {
		return ErrNoMatch
	}
	return nil
}

// match reports whether a v1a entry of sigs is a signature of the message.
// The signatures are public, so it may stop at the first match.
func (k *PublicKey) match(sigs []string, msgID string, unix int64, payload []byte) bool {
	var mb *msgBuf
	defer func() {
		if mb != nil {
			mb.put(&k.pool)
		}
	}()
	var msg []byte
	tried := 0
	for _, v := range sigs {
		for entry := range strings.FieldsSeq(v) {
			version, sig, ok := strings.Cut(entry, ",")
			if !ok || version != SchemeV1a || len(sig) != sigLenV1a {
				continue
			}
			if tried++; tried > maxV1aEntries {
				return false
			}
			var text [sigLenV1a]byte
			var raw [ed25519.SignatureSize + 2]byte
			copy(text[:], sig)
			n, err := base64.StdEncoding.Strict().Decode(raw[:], text[:])
			if err != nil || n != ed25519.SignatureSize {
				continue
			}
			if mb == nil {
				mb = k.pool.Get().(*msgBuf)
				msg = appendMessage(mb.b[:0], msgID, unix, payload)
				mb.b = msg
			}
			if ed25519.Verify(k.key, msg, raw[:n]) {
				return true
			}
		}
	}
	return false
}

// msgBuf holds the signed message of an ed25519 signature or verification,
// which must be one slice: "id.timestamp.payload".
type msgBuf struct{ b []byte }

// maxPooledMessage is the largest message buffer kept for reuse, so that one
// large batch does not pin its memory.
const maxPooledMessage = 64 << 10

// put returns the buffer to pool unless it grew too large.
func (mb *msgBuf) put(pool *sync.Pool) {
	if cap(mb.b) <= maxPooledMessage {
		pool.Put(mb)
	}
}

// appendMessage appends the signed content of a message to dst.
func appendMessage(dst []byte, msgID string, unix int64, payload []byte) []byte {
	dst = append(dst, msgID...)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, unix, 10)
	dst = append(dst, '.')
	return append(dst, payload...)
}

// appendV1a appends "v1a," and the base64 ed25519 signature of a message.
func (s *Signer) appendV1a(dst []byte, msgID string, unix int64, payload []byte) []byte {
	mb := s.pool.Get().(*msgBuf)
	mb.b = appendMessage(mb.b[:0], msgID, unix, payload)
	sig := ed25519.Sign(s.priv, mb.b)
	mb.put(&s.pool)
	dst = append(dst, SchemeV1a...)
	dst = append(dst, ',')
	return base64.StdEncoding.AppendEncode(dst, sig)
}

// Package secretbox seals endpoint secrets for storage with AES-256-GCM,
// under keys that can be rotated.
//
// A sealed value is text, so that it fits the column a plain secret uses:
//
//	aesgcm:<key ID>:<standard base64 of nonce ‖ ciphertext ‖ tag>
//
// The key ID is the first 8 hex digits of a SHA-256 of the key, so a value
// names the key that sealed it without revealing it. The nonce is 12 random
// bytes; the additional data is the value's context (the endpoint ID), so a
// sealed secret copied into another endpoint's row does not open.
//
// A Box seals with one current key and opens values sealed with it or with
// any of its previous keys; a store re-seals, with the current key, the
// values that [Box.Current] says are not sealed with it. Values stored in
// plain (from before a key was set) open as they are. A nil *Box seals
// nothing and opens only plain values. Neither the keys nor the values
// appear in errors.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of a key in bytes: AES-256.
const KeySize = 32

// prefix starts every sealed value.
const prefix = "aesgcm:"

// idLen is the length of a key ID in hex digits.
const idLen = 8

// The errors of Open; the error returned matches one with [errors.Is] and
// adds the key ID.
var (
	// ErrUnknownKey: the value was sealed with a key the Box does not
	// hold (or there is no Box).
	ErrUnknownKey = errors.New("secretbox: sealed with a key that was not given")
	// ErrOpen: the value names a key the Box holds but does not open with
	// it: the key is not the one that sealed it, or the value was altered.
	ErrOpen = errors.New("secretbox: sealed value does not open: wrong key or altered value")
)

// Box seals and opens secrets. Its methods are safe for concurrent use, and
// on a nil *Box.
type Box struct {
	current *key            // nil: values are stored in plain
	keys    map[string]*key // every key, current included, by ID
}

type key struct {
	id   string
	aead cipher.AEAD
}

// ParseKey reads a key as it is given on the command line or in a file: the
// standard base64 of KeySize random bytes (what `openssl rand -base64 32`
// prints), with surrounding white space ignored. Its errors never quote the
// text.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	k, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("secretbox: a key must be the standard base64 of %d random bytes, such as `openssl rand -base64 %d` prints", KeySize, KeySize)
	}
	if len(k) != KeySize {
		return nil, fmt.Errorf("secretbox: a key must be %d bytes, not %d (the standard base64 of %d random bytes, such as `openssl rand -base64 %d` prints)", KeySize, len(k), KeySize, KeySize)
	}
	return k, nil
}

// KeyID returns the ID that values sealed with k carry.
func KeyID(k []byte) string {
	h := sha256.New()
	h.Write([]byte("hookline secretbox key ID\x00"))
	h.Write(k)
	return hex.EncodeToString(h.Sum(nil))[:idLen]
}

// New returns a Box that seals with current and opens what it or any of
// previous sealed. A nil current makes a Box that seals nothing (values are
// re-sealed in plain), for turning encryption off with the old keys given
// as previous. Each key must be KeySize bytes; a key given twice counts
// once.
func New(current []byte, previous ...[]byte) (*Box, error) {
	b := &Box{keys: make(map[string]*key)}
	add := func(k []byte) (*key, error) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("secretbox: a key must be %d bytes, not %d", KeySize, len(k))
		}
		id := KeyID(k)
		if old := b.keys[id]; old != nil {
			return old, nil
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("secretbox: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secretbox: %w", err)
		}
		kk := &key{id: id, aead: aead}
		b.keys[id] = kk
		return kk, nil
	}
	if current != nil {
		k, err := add(current)
		if err != nil {
			return nil, err
		}
		b.current = k
	}
	for _, p := range previous {
		if _, err := add(p); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// KeyID returns the ID of the current key, "" when values are stored in
// plain.
func (b *Box) KeyID() string {
	if b == nil || b.current == nil {
		return ""
	}
	return b.current.id
}

// Seal returns plain as it is to be stored for context: sealed with the
// current key, or plain as it is when there is none. "" stays "".
func (b *Box) Seal(plain, context string) string {
	if b == nil || b.current == nil || plain == "" {
		return plain
	}
	k := b.current
	out := make([]byte, 0, len(prefix)+idLen+1+base64.StdEncoding.EncodedLen(k.aead.NonceSize()+len(plain)+k.aead.Overhead()))
	out = append(out, prefix...)
	out = append(out, k.id...)
	out = append(out, ':')
	raw := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	_, _ = rand.Read(raw) // never fails; it crashes the program instead
	raw = k.aead.Seal(raw, raw, []byte(plain), additional(context))
	return string(base64.StdEncoding.AppendEncode(out, raw))
}

// Open returns the plain value of stored, which Seal made for context: a
// sealed value is opened with the key it names; any other value is plain
// and returned as it is. Its errors match ErrUnknownKey or ErrOpen, or say
// the value is malformed; they name the key ID, never the value.
func (b *Box) Open(stored, context string) (string, error) {
	if !IsSealed(stored) {
		return stored, nil
	}
	id, body, ok := strings.Cut(stored[len(prefix):], ":")
	if !ok || len(id) != idLen {
		return "", errors.New("secretbox: a malformed sealed value")
	}
	var k *key
	if b != nil {
		k = b.keys[id]
	}
	if k == nil {
		return "", fmt.Errorf("%w (key ID %s)", ErrUnknownKey, id)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(body)
	if err != nil || len(raw) < k.aead.NonceSize()+k.aead.Overhead() {
		return "", fmt.Errorf("%w (key ID %s)", ErrOpen, id)
	}
	nonce, sealed := raw[:k.aead.NonceSize()], raw[k.aead.NonceSize():]
	plain, err := k.aead.Open(nil, nonce, sealed, additional(context))
	if err != nil {
		return "", fmt.Errorf("%w (key ID %s)", ErrOpen, id)
	}
	return string(plain), nil
}

// Current reports whether stored is as Seal stores a value now: sealed
// with the current key, or in plain when there is none. "" always is. A
// value that is not needs re-sealing.
func (b *Box) Current(stored string) bool {
	if stored == "" {
		return true
	}
	if b == nil || b.current == nil {
		return !IsSealed(stored)
	}
	return strings.HasPrefix(stored, prefix) && strings.HasPrefix(stored[len(prefix):], b.current.id+":")
}

// IsSealed reports whether a stored value is sealed, rather than plain.
// Endpoint secrets start with "whsec_" or "whsk_", so they never look
// sealed.
func IsSealed(stored string) bool { return strings.HasPrefix(stored, prefix) }

// additional returns the additional data of a value sealed for context.
func additional(context string) []byte {
	return append([]byte("hookline endpoint secret\x00"), context...)
}

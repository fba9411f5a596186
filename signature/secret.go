package signature

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SecretPrefix starts every secret.
const SecretPrefix = "whsec_"

// Bounds on the length of a secret's key, in bytes. GenerateSecret makes keys
// of MinKeySize bytes.
const (
	MinKeySize = 24
	MaxKeySize = 64
)

// ErrInvalidSecret is matched (with [errors.Is]) by every error of
// [ParseSecret], [ParseSecretKey], [ParsePublicKey], [PublicKeyOf],
// [NewSigner] and [Verify] about a malformed secret or key. The errors
// themselves say what is wrong, in words fit to show an API client, and
// never quote the secret.
var ErrInvalidSecret = errors.New("invalid secret")

// secretError is a message for a person that matches ErrInvalidSecret.
type secretError string

func (e secretError) Error() string        { return string(e) }
func (e secretError) Is(target error) bool { return target == ErrInvalidSecret }

// GenerateSecret returns a new random secret: "whsec_" followed by the
// standard base64 of MinKeySize bytes from crypto/rand.
func GenerateSecret() string {
	key := make([]byte, MinKeySize)
	_, _ = rand.Read(key) // never fails; it crashes the program instead
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// ParseSecret returns the key bytes of a secret: "whsec_" followed by the
// standard (padded) base64 of MinKeySize to MaxKeySize bytes. Its errors
// match [ErrInvalidSecret] and are written for a person, such as
// "secret must start with whsec_".
func ParseSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, secretError("secret must start with " + SecretPrefix)
	}
	// The decoder skips CR and LF; a secret must not contain them either.
	if b64 == "" || strings.ContainsAny(b64, "\r\n") {
		return nil, secretError("secret must be standard base64 after " + SecretPrefix)
	}
	if len(b64) > base64.StdEncoding.EncodedLen(MaxKeySize) {
		return nil, secretError(fmt.Sprintf("secret key must be %d to %d bytes", MinKeySize, MaxKeySize))
	}
	key, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return nil, secretError("secret must be standard base64 after " + SecretPrefix)
	}
	if len(key) < MinKeySize || len(key) > MaxKeySize {
		return nil, secretError(fmt.Sprintf("secret key must be %d to %d bytes, not %d", MinKeySize, MaxKeySize, len(key)))
	}
	return key, nil
}

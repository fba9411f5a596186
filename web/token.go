package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hookline/hookline"
)

// A portal token is <payload>.<mac>, both base64url without padding: the
// payload is the JSON {"v":1,"tenant":…,"exp":<unix seconds>,"n":<nonce>},
// the mac its HMAC-SHA256 under the server secret with the domain
// "hookline portal token\x00" in front. Tokens are not stored anywhere: any
// node with the same secret accepts them until they expire.

// tokenDomain separates portal-token MACs from any other use of the secret.
const tokenDomain = "hookline portal token\x00"

// maxToken bounds the length of a token that is even looked at.
const maxToken = 1024

// Errors of verifyToken, shown to the person who opened the link.
var (
	errTokenExpired = errors.New("portal link expired")
	errTokenInvalid = errors.New("portal link not valid")
)

// tokenPayload is what a portal token says.
type tokenPayload struct {
	V      int    `json:"v"`
	Tenant string `json:"tenant"`
	Exp    int64  `json:"exp"`
	Nonce  string `json:"n"`
}

// signToken returns a token for tenant that expires at exp.
func signToken(secret []byte, tenant string, exp time.Time) string {
	var n [8]byte
	_, _ = rand.Read(n[:])
	b, _ := json.Marshal(tokenPayload{V: 1, Tenant: tenant, Exp: exp.Unix(), Nonce: hex.EncodeToString(n[:])}) // plain data
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(tokenMAC(secret, payload))
}

func tokenMAC(secret []byte, payload string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(tokenDomain))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// verifyToken returns the tenant and expiry of a token signed with secret,
// errTokenExpired when it expired at or before now, and errTokenInvalid for
// anything else: a bad signature, a tampered payload, garbage.
func verifyToken(secret []byte, tok string, now time.Time) (string, time.Time, error) {
	if len(tok) > maxToken {
		return "", time.Time{}, errTokenInvalid
	}
	payload, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return "", time.Time{}, errTokenInvalid
	}
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, tokenMAC(secret, payload)) {
		return "", time.Time{}, errTokenInvalid
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", time.Time{}, errTokenInvalid
	}
	var p tokenPayload
	if json.Unmarshal(b, &p) != nil || p.V != 1 || p.Tenant == "" || !hookline.ValidTenant(p.Tenant) {
		return "", time.Time{}, errTokenInvalid
	}
	exp := time.Unix(p.Exp, 0).UTC()
	if !now.Before(exp) {
		return "", time.Time{}, errTokenExpired
	}
	return p.Tenant, exp, nil
}

// secretFile is the name of the portal secret in the data dir.
const secretFile = "portal-secret"

// LoadOrCreateSecret returns the portal secret saved in dir, making one of
// 32 random bytes and saving it (hex, mode 0600) on first start. It is what
// a single SQLite node uses.
func LoadOrCreateSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, secretFile)
	if b, err := os.ReadFile(path); err == nil {
		if s, err := hex.DecodeString(strings.TrimSpace(string(b))); err == nil && len(s) >= 32 {
			return s, nil
		}
		return nil, fmt.Errorf("portal secret %s: not 64 or more hex digits; delete it to have a new one made (open portal links stop working)", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read portal secret: %w", err)
	}
	s := make([]byte, 32)
	_, _ = rand.Read(s)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("save portal secret: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(s) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("save portal secret: %w", err)
	}
	return s, nil
}

// DeriveSecret returns the portal secret of a cluster: HMAC-SHA256 of a
// fixed label under the operator key, so every node that shares the key (as
// PostgreSQL nodes must) accepts the others' portal links. Changing the
// operator key ends every open portal link.
func DeriveSecret(apiKey string) []byte {
	m := hmac.New(sha256.New, []byte(apiKey))
	m.Write([]byte("hookline portal secret v1"))
	return m.Sum(nil)
}

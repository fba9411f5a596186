package bench

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// signatureTolerance is how far webhook-timestamp may be from the
// receiver's clock.
const signatureTolerance = 5 * time.Minute

// secretKey returns the HMAC key of a "whsec_<base64>" secret.
func secretKey(secret string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(k) == 0 {
		return nil, errors.New("secret is not whsec_ followed by base64")
	}
	return k, nil
}

// verifySignature checks a delivery as a Standard Webhooks receiver does:
// one of the space-separated "v1,<base64>" entries of webhook-signature is
// HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>"), the
// timestamp is within signatureTolerance of now, and webhook-id is the
// payload's id. It is written apart from package signature on purpose, so
// the bench cross-checks the server's signer against the spec.
func verifySignature(key []byte, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := first(h["Webhook-Id"]), first(h["Webhook-Timestamp"]), first(h["Webhook-Signature"])
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("webhook-timestamp is not a number")
	}
	if d := now.Unix() - t; d > int64(signatureTolerance/time.Second) || -d > int64(signatureTolerance/time.Second) {
		return errors.New("webhook-timestamp too far from now")
	}
	// The payload starts {"id":"<webhook-id>", written by the server.
	if len(body) < 8+len(id) || string(body[:7]) != `{"id":"` || string(body[7:7+len(id)]) != id || body[7+len(id)] != '"' {
		return errors.New("webhook-id is not the payload's id")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	var sum [sha256.Size]byte
	var want [44]byte
	base64.StdEncoding.Encode(want[:], mac.Sum(sum[:0]))
	for s := range strings.FieldsSeq(sigs) {
		if v, ok := strings.CutPrefix(s, "v1,"); ok && hmac.Equal([]byte(v), want[:]) {
			return nil
		}
	}
	return errors.New("no v1 signature matches")
}

// sign returns a webhook-signature header value for a delivery, as the
// server makes it; the ceiling uses it so receivers do the same work.
func sign(key []byte, id, ts string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

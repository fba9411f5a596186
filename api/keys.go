package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hookline/hookline"
)

// MaxKeyName is the longest name of an API key, in bytes.
const MaxKeyName = 256

// keyRequest is the body of POST /v1/keys.
type keyRequest struct {
	Tenant *string `json:"tenant"`
	Name   *string `json:"name"`
}

// keyResponse is an API key as the API shows it. Key is set only in the
// answer of POST /v1/keys: it is not kept.
type keyResponse struct {
	*hookline.APIKey
	Key string `json:"key,omitempty"`
}

// newTenantKey returns a new tenant API key: "hk_" and 32 random bytes,
// base64url-encoded (256 bits of entropy, so a plain SHA-256 of it is a safe
// way to keep it).
func newTenantKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	return hookline.SecretKeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// handleCreateKey is POST /v1/keys {tenant, name?}: 201 with the key, which
// no later answer shows again.
func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request) {
	var req keyRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Tenant == nil || *req.Tenant == "" {
		s.writeError(w, r, hookline.Errorf(hookline.EINVALID, "tenant: required; the tenant whose objects the key may see"))
		return
	}
	if err := checkTenant(*req.Tenant); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Name != nil && len(*req.Name) > MaxKeyName {
		s.writeError(w, r, hookline.Errorf(hookline.EINVALID, "name: at most %d bytes", MaxKeyName))
		return
	}
	if req.Name != nil {
		if err := checkText("name", *req.Name); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	key := newTenantKey()
	sum := sha256.Sum256([]byte(key))
	now := s.now().UTC()
	k := &hookline.APIKey{
		ID:        hookline.NewID(hookline.KeyPrefix, now),
		Tenant:    *req.Tenant,
		Hash:      sum[:],
		CreatedAt: now,
	}
	if req.Name != nil {
		k.Name = *req.Name
	}
	if err := s.store.CreateKey(r.Context(), k); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusCreated, keyResponse{APIKey: k, Key: key})
}

// handleListKeys is GET /v1/keys[?tenant=]: keys newest first, without the
// keys themselves.
func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f hookline.KeyFilter
	var err error
	if f.Cursor, f.Limit, err = page(q, hookline.KeyPrefix); err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.Tenant, err = tenantParam(q); err != nil {
		s.writeError(w, r, err)
		return
	}
	ks, next, err := s.store.FindKeys(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]keyResponse, len(ks))
	for i, k := range ks {
		out[i] = keyResponse{APIKey: k}
	}
	s.writeJSON(w, r, http.StatusOK, newList(out, next))
}

// handleDeleteKey is DELETE /v1/keys/{id}: 204, and the key is refused
// from then on: at once on this node, within keyCacheTTL on the others.
func (s *Server) handleDeleteKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.store.DeleteKey(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.keys.forget(id)
	w.WriteHeader(http.StatusNoContent)
}

// checkText returns EINVALID naming field when v holds control characters
// or U+FFFD, which is what encoding/json leaves of invalid UTF-8.
func checkText(field, v string) error {
	if strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) {
		return hookline.Errorf(hookline.EINVALID, "%s: must be UTF-8 text without control characters", field)
	}
	return nil
}

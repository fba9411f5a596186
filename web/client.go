package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/api"
)

// credential is who an in-process API request acts as: an API key, or the
// tenant of a portal session.
type credential struct {
	key    string
	tenant string
	portal bool
}

// cred returns the credential of s: a portal session opened by a link acts
// as its tenant; one opened with a tenant's API key acts with the key.
func (s *session) cred() credential {
	return credential{key: s.key, tenant: s.tenant, portal: s.portal && s.key == ""}
}

// client calls the JSON API in-process, through its http.Handler.
type client struct{ h http.Handler }

// do sends method path with body (JSON-encoded when not nil) as c, and
// decodes a 2xx answer into out (when not nil). An error answer is returned
// as the API's *hookline.Error, so its code and message reach the page.
func (cl *client) do(ctx context.Context, c credential, method, path string, body, out any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	ctx = api.Unmetered(ctx) // the sampler alone would spend a key's budget
	if c.portal {
		ctx = api.WithTenant(ctx, c.tenant)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return fmt.Errorf("request %s %s: %w", method, path, err)
	}
	req.RemoteAddr = "127.0.0.1:0" // in-process
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !c.portal {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	rec := &recorder{header: make(http.Header)}
	cl.h.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 300 {
		var e struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		if json.Unmarshal(rec.body.Bytes(), &e) != nil || e.Error == "" {
			return fmt.Errorf("%s %s: status %d", method, path, rec.status)
		}
		return &hookline.Error{Code: e.Error, Message: e.Message}
	}
	if out != nil && rec.body.Len() > 0 {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return nil
}

// recorder is the http.ResponseWriter of an in-process request.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

// Header implements http.ResponseWriter.
func (r *recorder) Header() http.Header { return r.header }

// WriteHeader implements http.ResponseWriter.
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// Write implements http.ResponseWriter.
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

package api

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/hookline/hookline"
)

// DefaultMaxDeliveryTimeout is the bound of an endpoint's timeout when
// Config.MaxDeliveryTimeout is zero: the engine's default delivery timeout.
const DefaultMaxDeliveryTimeout = 15 * time.Second

// reservedHeaders are the headers an endpoint may not set: those Hookline
// sets itself and the hop-by-hop ones (RFC 9110 section 7.6.1), by
// canonical name. Names starting with "Webhook-" are refused too.
var reservedHeaders = map[string]bool{
	"Content-Type": true, "Content-Length": true, "User-Agent": true, "Host": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Proxy-Connection": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// checkHeaders decodes and checks the headers field: nil for null or {}.
// Its errors name the header, never its value.
func checkHeaders(raw json.RawMessage) (map[string]string, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	if err := checkUnicode("headers", raw); err != nil {
		return nil, err
	}
	var h map[string]string
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, hookline.Errorf(hookline.EINVALID, "headers: must be an object of header names to string values")
	}
	if len(h) > hookline.MaxHeaders {
		return nil, hookline.Errorf(hookline.EINVALID, "headers: at most %d, not %d", hookline.MaxHeaders, len(h))
	}
	out := make(map[string]string, len(h))
	for name, v := range h {
		canon := http.CanonicalHeaderKey(name)
		switch {
		case !httpguts.ValidHeaderFieldName(name):
			return nil, hookline.Errorf(hookline.EINVALID, "headers: %.100q is not a header name (letters, digits and !#$%%&'*+-.^_`|~)", name)
		case strings.HasPrefix(canon, "Webhook-"):
			return nil, hookline.Errorf(hookline.EINVALID, "headers.%s: the webhook-* headers are Hookline's (Standard Webhooks)", name)
		case reservedHeaders[canon]:
			return nil, hookline.Errorf(hookline.EINVALID, "headers.%s: set by Hookline or hop-by-hop; it cannot be set per endpoint", name)
		case !httpguts.ValidHeaderFieldValue(v):
			return nil, hookline.Errorf(hookline.EINVALID, "headers.%s: the value holds a control character", name)
		case len(name)+len(v) > hookline.MaxHeaderBytes:
			return nil, hookline.Errorf(hookline.EINVALID, "headers.%s: name and value together at most %d bytes", name, hookline.MaxHeaderBytes)
		}
		if _, dup := out[canon]; dup {
			return nil, hookline.Errorf(hookline.EINVALID, "headers.%s: given twice (names are case-insensitive)", name)
		}
		out[canon] = v
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// checkTimeout decodes and checks the timeout field: a Go duration from
// 1ms to max, or null (0: the server's).
func checkTimeout(raw json.RawMessage, maxTimeout time.Duration) (time.Duration, error) {
	if string(raw) == "null" {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, hookline.Errorf(hookline.EINVALID, `timeout: must be a duration such as "5s", or null for the server's`)
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, hookline.Errorf(hookline.EINVALID, `timeout: %.50q is not a duration such as "5s"`, s)
	case d < time.Millisecond:
		return 0, hookline.Errorf(hookline.EINVALID, "timeout: must be at least 1ms")
	case d > maxTimeout:
		return 0, hookline.Errorf(hookline.EINVALID, "timeout: at most the server's delivery timeout, %s", maxTimeout)
	}
	return d.Truncate(time.Millisecond), nil
}

// checkRetrySchedule decodes and checks the retry_schedule field: an array
// of Go durations, the first 0s, or null (the server's).
func checkRetrySchedule(raw json.RawMessage) ([]time.Duration, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	var ss []string
	if err := json.Unmarshal(raw, &ss); err != nil {
		return nil, hookline.Errorf(hookline.EINVALID, `retry_schedule: must be an array of durations such as ["0s","1m","10m"], or null for the server's`)
	}
	if len(ss) == 0 || len(ss) > hookline.MaxRetrySchedule {
		return nil, hookline.Errorf(hookline.EINVALID, "retry_schedule: from 1 to %d entries, not %d", hookline.MaxRetrySchedule, len(ss))
	}
	out := make([]time.Duration, len(ss))
	for i, s := range ss {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		switch {
		case err != nil:
			return nil, hookline.Errorf(hookline.EINVALID, `retry_schedule[%d]: %.50q is not a duration such as "10m"`, i, s)
		case i == 0 && d != 0:
			return nil, hookline.Errorf(hookline.EINVALID, `retry_schedule[0]: must be "0s": the first attempt is made at once`)
		case d < 0 || d > hookline.MaxRetryDelay:
			return nil, hookline.Errorf(hookline.EINVALID, "retry_schedule[%d]: must be from 0s to %s", i, hookline.MaxRetryDelay)
		}
		out[i] = d
	}
	return out, nil
}

// authRequest is the auth field of an endpoint.
type authRequest struct {
	Type         *string `json:"type"`
	Username     *string `json:"username"`
	Password     *string `json:"password"`
	TokenURL     *string `json:"token_url"`
	ClientID     *string `json:"client_id"`
	ClientSecret *string `json:"client_secret"`
	Scope        *string `json:"scope"`
	Cert         *string `json:"cert"`
	Key          *string `json:"key"`
}

// checkAuth decodes and checks the auth field: nil for null. An OAuth2
// token_url passes the destination check of endpoint URLs; an mTLS
// certificate and key must load together. Its errors never quote a
// credential.
func (s *Server) checkAuth(raw json.RawMessage) (*hookline.EndpointAuth, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	var a authRequest
	if err := decodeJSON(bytes.NewReader(raw), &a, "auth"); err != nil {
		return nil, err
	}
	if a.Type == nil {
		return nil, hookline.Errorf(hookline.EINVALID, "auth.type: required: %q, %q or %q",
			hookline.AuthBasic, hookline.AuthOAuth2ClientCredentials, hookline.AuthMTLS)
	}
	out := &hookline.EndpointAuth{Type: *a.Type}
	var required, optional []string
	switch *a.Type {
	case hookline.AuthBasic:
		required = []string{"username", "password"}
	case hookline.AuthOAuth2ClientCredentials:
		required, optional = []string{"token_url", "client_id", "client_secret"}, []string{"scope"}
	case hookline.AuthMTLS:
		required = []string{"cert", "key"}
	default:
		return nil, hookline.Errorf(hookline.EINVALID, "auth.type: must be %q, %q or %q",
			hookline.AuthBasic, hookline.AuthOAuth2ClientCredentials, hookline.AuthMTLS)
	}
	all := map[string][2]*string{
		"username": {a.Username, &out.Username}, "password": {a.Password, &out.Password},
		"token_url": {a.TokenURL, &out.TokenURL}, "client_id": {a.ClientID, &out.ClientID},
		"client_secret": {a.ClientSecret, &out.ClientSecret}, "scope": {a.Scope, &out.Scope},
		"cert": {a.Cert, &out.Cert}, "key": {a.Key, &out.Key},
	}
	allowed := make(map[string]bool)
	for _, f := range required {
		allowed[f] = true
		if v := all[f][0]; v == nil || *v == "" && f != "password" {
			return nil, hookline.Errorf(hookline.EINVALID, "auth.%s: required for %s", f, *a.Type)
		}
	}
	for _, f := range optional {
		allowed[f] = true
	}
	for _, f := range []string{"username", "password", "token_url", "client_id", "client_secret", "scope", "cert", "key"} {
		p := all[f]
		if p[0] == nil {
			continue
		}
		if !allowed[f] {
			return nil, hookline.Errorf(hookline.EINVALID, "auth.%s: not a field of %s auth", f, *a.Type)
		}
		if len(*p[0]) > hookline.MaxAuthFieldBytes {
			return nil, hookline.Errorf(hookline.EINVALID, "auth.%s: at most %d bytes", f, hookline.MaxAuthFieldBytes)
		}
		if f != "cert" && f != "key" && !httpguts.ValidHeaderFieldValue(*p[0]) {
			return nil, hookline.Errorf(hookline.EINVALID, "auth.%s: holds a control character", f)
		}
		*p[1] = *p[0]
	}
	switch out.Type {
	case hookline.AuthBasic:
		if strings.Contains(out.Username, ":") {
			return nil, hookline.Errorf(hookline.EINVALID, "auth.username: must not contain ':' (RFC 7617)")
		}
	case hookline.AuthOAuth2ClientCredentials:
		if err := s.validateURL(out.TokenURL); err != nil {
			return nil, hookline.Errorf(hookline.EINVALID, "auth.token_url: %s", strings.TrimPrefix(hookline.ErrorMessage(err), "url: "))
		}
	case hookline.AuthMTLS:
		if _, err := tls.X509KeyPair([]byte(out.Cert), []byte(out.Key)); err != nil {
			return nil, hookline.Errorf(hookline.EINVALID, "auth: cert and key must be a PEM certificate (chain) and its PEM private key")
		}
	}
	return out, nil
}

package sender

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxTokenBody bounds what is read of a token endpoint's answer.
const maxTokenBody = 64 << 10

// tokenSource gets and keeps an endpoint's OAuth2 access token with the
// client credentials grant (RFC 6749 section 4.4). One request at a time
// asks for a token; the others wait for it.
type tokenSource struct {
	url, id, secret, scope string
	now                    func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time // zero: until the receiver refuses it
	post    bool      // send the credentials in the form: Basic was refused
}

// TokenError is a failure to get a token, for the attempt's error.
type TokenError struct {
	msg     string
	refused bool // a 400 or 401: the credentials, perhaps their style
}

// Error implements error.
func (e *TokenError) Error() string { return "oauth2 token: " + e.msg }

// get returns a token that is not stale: the one kept while it has not
// expired (with a margin), or a new one.
func (ts *tokenSource) get(ctx context.Context, c *http.Client, stale string) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token != "" && ts.token != stale && (ts.expires.IsZero() || ts.now().Before(ts.expires)) {
		return ts.token, nil
	}
	ts.token = ""
	tok, ttl, err := ts.fetch(ctx, c, ts.post)
	var te *TokenError
	if errors.As(err, &te) && te.refused && !ts.post {
		// Some servers take the credentials in the form only.
		if tok, ttl, err = ts.fetch(ctx, c, true); err == nil {
			ts.post = true
		}
	}
	if err != nil {
		return "", err
	}
	ts.token, ts.expires = tok, time.Time{}
	if ttl > 0 {
		// Renew ahead of expiry: 10% of the lifetime, at most 30 s.
		ts.expires = ts.now().Add(ttl - min(ttl/10, 30*time.Second))
	}
	return tok, nil
}

// tokenAnswer is a token endpoint's JSON answer.
type tokenAnswer struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	Error       string          `json:"error"`
}

// fetch asks the token endpoint for a token, with the credentials in an
// Authorization header, or in the form when post.
func (ts *tokenSource) fetch(ctx context.Context, c *http.Client, post bool) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if ts.scope != "" {
		form.Set("scope", ts.scope)
	}
	if post {
		form.Set("client_id", ts.id)
		form.Set("client_secret", ts.secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.url, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, &TokenError{msg: "bad token_url"}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if !post {
		req.SetBasicAuth(url.QueryEscape(ts.id), url.QueryEscape(ts.secret))
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", 0, &TokenError{msg: "token endpoint: " + classifyError(err, 0).Err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxTokenBody))
	var a tokenAnswer
	jsonErr := json.Unmarshal(body, &a)
	if resp.StatusCode != http.StatusOK {
		msg := fmt.Sprintf("token endpoint answered %d", resp.StatusCode)
		if a.Error != "" {
			msg += " (" + truncate(a.Error, 100) + ")"
		}
		return "", 0, &TokenError{msg: msg, refused: resp.StatusCode == 400 || resp.StatusCode == 401}
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); jsonErr != nil || a.AccessToken == "" {
		return "", 0, &TokenError{msg: fmt.Sprintf("token endpoint answered 200 (%s) without an access_token", truncate(ct, 50))}
	}
	if a.TokenType != "" && !strings.EqualFold(a.TokenType, "bearer") {
		return "", 0, &TokenError{msg: fmt.Sprintf("token endpoint gave a %q token, not a bearer token", truncate(a.TokenType, 20))}
	}
	var ttl time.Duration
	var secs float64
	if len(a.ExpiresIn) > 0 && json.Unmarshal(a.ExpiresIn, &secs) != nil {
		var s string
		if json.Unmarshal(a.ExpiresIn, &s) == nil {
			fmt.Sscan(s, &secs)
		}
	}
	if secs > 0 {
		ttl = time.Duration(min(secs, 365*24*3600) * float64(time.Second))
	}
	return a.AccessToken, ttl, nil
}

// truncate cuts s to n bytes.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

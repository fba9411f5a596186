package sender

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// TestTokenAnswers checks how token endpoints' answers are read: the
// token and its lifetime, and a clear error for each bad answer, which
// never holds the client secret.
func TestTokenAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ct, body string
		status         int
		token, err     string
		ttl            time.Duration
	}{
		{"Bearer", "application/json", `{"access_token":"t","token_type":"Bearer","expires_in":60}`, 200, "t", "", 60 * time.Second},
		{"LowerCase", "application/json", `{"access_token":"t","token_type":"bearer"}`, 200, "t", "", 0},
		{"ExpiresInString", "application/json", `{"access_token":"t","expires_in":"120"}`, 200, "t", "", 120 * time.Second},
		{"NoToken", "application/json", `{"token_type":"Bearer"}`, 200, "", "answered 200 (application/json) without an access_token", 0},
		{"NotJSON", "text/html", `<html>`, 200, "", "answered 200 (text/html) without an access_token", 0},
		{"OtherType", "application/json", `{"access_token":"t","token_type":"mac"}`, 200, "", `a "mac" token, not a bearer token`, 0},
		{"Refused", "application/json", `{"error":"invalid_scope"}`, 400, "", "token endpoint answered 400 (invalid_scope)", 0},
		{"ServerError", "text/plain", `oops`, 500, "", "token endpoint answered 500", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ct)
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			ts := &tokenSource{url: srv.URL, id: "id", secret: "the-client-secret", now: time.Now}
			tok, ttl, err := ts.fetch(context.Background(), srv.Client(), false)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "the-client-secret") {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || tok != tc.token || ttl != tc.ttl {
				t.Fatalf("token %q, ttl %s, %v", tok, ttl, err)
			}
		})
	}
}

// TestTokenRefusedDestination checks that the token request goes through
// the dial guard of deliveries.
func TestTokenRefusedDestination(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the token endpoint on loopback was asked")
	}))
	defer srv.Close()
	s := New(Options{Timeout: 5 * time.Second, IdleConnsPerHost: 1})
	p, err := s.Profile(&hookline.Endpoint{Auth: &hookline.EndpointAuth{Type: hookline.AuthOAuth2ClientCredentials,
		TokenURL: srv.URL, ClientID: "id", ClientSecret: "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	r := s.Send(context.Background(), &Request{URL: "https://receiver.example/", Body: []byte("{}"), Profile: p}, time.Now())
	if r.Kind != KindAuth || !strings.Contains(r.Err, "oauth2 token: token endpoint: destination 127.0.0.1") {
		t.Fatalf("result %+v", r)
	}
}

// TestSameProfile pins what makes a new profile.
func TestSameProfile(t *testing.T) {
	t.Parallel()
	base := func() *hookline.Endpoint {
		return &hookline.Endpoint{URL: "https://a.example/", Headers: map[string]string{"X-A": "1"}, Timeout: time.Second,
			Auth: &hookline.EndpointAuth{Type: hookline.AuthBasic, Username: "u", Password: "p"}}
	}
	if !SameProfile(base(), base()) || !SameProfile(nil, nil) || SameProfile(base(), nil) {
		t.Fatal("equal endpoints differ")
	}
	other := base()
	other.URL, other.RetrySchedule = "https://b.example/", []time.Duration{0}
	if !SameProfile(base(), other) {
		t.Fatal("the URL and schedule are not part of a profile")
	}
	for name, change := range map[string]func(*hookline.Endpoint){
		"Header":   func(e *hookline.Endpoint) { e.Headers["X-A"] = "2" },
		"Timeout":  func(e *hookline.Endpoint) { e.Timeout = 2 * time.Second },
		"Password": func(e *hookline.Endpoint) { e.Auth.Password = "q" },
		"NoAuth":   func(e *hookline.Endpoint) { e.Auth = nil },
	} {
		e := base()
		change(e)
		if SameProfile(base(), e) {
			t.Errorf("%s: the same profile", name)
		}
	}
}

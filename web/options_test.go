package web_test

import (
	"net/url"
	"strings"
	"testing"
)

// TestEndpointOptions checks that the endpoint page shows the endpoint's
// filter, timeout, retry schedule, header names and auth type, never a
// header value or a credential, on the dashboard and in the portal; and
// that the edit form sets and removes the filter, timeout and schedule.
func TestEndpointOptions(t *testing.T) {
	s := setupStack(t)
	const headerValue, password, username = "hv-s3cr3t-4711", "pw-hunter2-0815", "user-k9x"
	var ep apiEndpoint
	if code := s.call(t, "POST", "/v1/endpoints", map[string]any{
		"url": s.receiver.URL + "/opts", "tenant": "acme",
		"headers":        map[string]string{"X-Api-Key": headerValue, "X-Team": headerValue + "-2"},
		"auth":           map[string]string{"type": "basic", "username": username, "password": password},
		"filter":         map[string]any{"data": map[string]any{"amount": map[string]int{"$gte": 1000}}},
		"timeout":        "2s",
		"retry_schedule": []string{"0s", "1m", "10m"},
	}, &ep); code != 201 {
		t.Fatalf("create: %d", code)
	}
	noSecrets := func(t *testing.T, a answer) {
		t.Helper()
		for _, secret := range []string{headerValue, password, username} {
			if strings.Contains(a.body, secret) {
				t.Fatalf("the page holds the secret %q", secret)
			}
		}
	}
	b := s.signIn(t)
	p := s.client(t)
	p.get(mustRequestURI(t, s.portalLink(t, "acme", "1h"))).want(t, 200)

	t.Run("Shown", func(t *testing.T) {
		for _, c := range []struct {
			b    *browserless
			path string
		}{{b, "/endpoints/" + ep.ID}, {p, "/portal/endpoints/" + ep.ID}} {
			a := c.b.get(c.path).want(t, 200, "X-Api-Key: ••••••", "X-Team: ••••••", "basic", "2s", "0s, 1m0s, 10m0s",
				`"$gte": 1000`, "set with the API only")
			noSecrets(t, a)
			noSecrets(t, c.b.get(strings.TrimSuffix(c.path, "/"+ep.ID)).want(t, 200, ep.ID))
		}
	})

	t.Run("Edit", func(t *testing.T) {
		b.get("/endpoints/" + ep.ID)
		b.post("/endpoints/"+ep.ID, url.Values{"url": {s.receiver.URL + "/opts"}, "event_types": {""},
			"timeout": {"3s"}, "retry_schedule": {"0s, 30s"}, "filter": {`{"type": "invoice.paid"}`}}).want(t, 303)
		a := b.get("/endpoints/"+ep.ID).want(t, 200, "Endpoint saved", "3s", "0s, 30s", `"type": "invoice.paid"`, "X-Api-Key: ••••••", "basic")
		noSecrets(t, a)
		var got struct {
			Timeout       *string           `json:"timeout"`
			RetrySchedule []string          `json:"retry_schedule"`
			Headers       map[string]string `json:"headers"`
		}
		s.call(t, "GET", "/v1/endpoints/"+ep.ID, nil, &got)
		if got.Timeout == nil || *got.Timeout != "3s" || strings.Join(got.RetrySchedule, ",") != "0s,30s" || got.Headers["X-Api-Key"] != headerValue {
			t.Fatalf("after the edit: %+v", got)
		}
		// Empty fields are the server's, and no filter.
		b.post("/endpoints/"+ep.ID, url.Values{"timeout": {""}, "retry_schedule": {""}, "filter": {""}}).want(t, 303)
		b.get("/endpoints/"+ep.ID).want(t, 200, "Timeout</dt><dd>the server's", "Retry schedule</dt><dd>the server's", "none: every event of its types")
		b.post("/endpoints/"+ep.ID, url.Values{"timeout": {"soon"}}).want(t, 400, "timeout")
		b.post("/endpoints/"+ep.ID, url.Values{"retry_schedule": {"1m"}}).want(t, 400, "retry_schedule[0]")
		b.post("/endpoints/"+ep.ID, url.Values{"filter": {`{"data": `}}).want(t, 400, "filter")
		b.post("/endpoints/"+ep.ID, url.Values{"filter": {`{"data": {"$bogus": 1}}`}}).want(t, 400, "filter")
	})
}

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSecretsNotShown boots the real Main at the debug log level with
// receivers that fail (500, 410, refused connections), so that attempts,
// retries, dead letters and errors are logged, and searches everything an
// operator or a client sees besides the two answers that show a secret
// (creation and GET …/secret) — every log line, /metrics, error answers and
// the stored attempts — for every signing secret and API key used.
func TestSecretsNotShown(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		// Echo nothing secret back, but answer with an error.
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "receiver exploded")
	}))
	defer failing.Close()
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }))
	defer gone.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close() // connections refused

	m, stdout, stderr := startMain(t, func(m *Main) {
		m.Config.LogLevel = "debug"
		m.Config.AllowDestinations = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		m.Config.RetrySchedule = []time.Duration{0, 10 * time.Millisecond, 10 * time.Millisecond}
		m.Config.APIKey = ""
		m.Config.PrintAPIKey = false
	})
	keyBytes, err := readKeyFile(m.Config.DataDir + "/api-key")
	if err != nil {
		t.Fatal(err)
	}
	m.Config.APIKey = keyBytes // for do
	apiKeys := []string{keyBytes}
	var secrets []string
	var shown []string // every answer that may not show a secret

	call := func(method, path, body string, key string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+m.Addr()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	create := func(body string) (id, secret string) {
		t.Helper()
		code, b := call("POST", "/v1/endpoints", body, keyBytes)
		var ep struct{ ID, Secret string }
		if code != 201 || json.Unmarshal([]byte(b), &ep) != nil {
			t.Fatalf("create endpoint: %d %s", code, b)
		}
		return ep.ID, ep.Secret
	}

	given := "whsec_" + "c2VjcmV0LWdpdmVuLWJ5LXRoZS1jbGllbnQtMDEyMzQ1Njc4OQ=="
	ep1, s1 := create(`{"url":"` + failing.URL + `/hook","secret":"` + given + `"}`)
	ep2, s2 := create(`{"url":"` + gone.URL + `/hook"}`)
	_, s3 := create(`{"url":"` + downURL + `/hook"}`)
	secrets = append(secrets, s1, s2, s3)
	// Rotate one secret; refuse a bad one (its message must not repeat it).
	rotated := "whsec_" + "cm90YXRlZC1zZWNyZXQtb2YtdGhlLWVuZHBvaW50LTk4NzY1NDMyMTA="
	if code, b := call("PATCH", "/v1/endpoints/"+ep1, `{"secret":"`+rotated+`"}`, keyBytes); code != 200 {
		t.Fatalf("rotate: %d %s", code, b)
	} else {
		shown = append(shown, b)
	}
	secrets = append(secrets, rotated)
	bad := "whsec_" + "bm90IGJhc2U2NCEh!!" + strings.Repeat("x", 20)
	code, b := call("PATCH", "/v1/endpoints/"+ep2, `{"secret":"`+bad+`"}`, keyBytes)
	if code != 400 {
		t.Fatalf("bad secret: %d %s", code, b)
	}
	shown = append(shown, b)
	secrets = append(secrets, bad)
	if code, b := call("GET", "/v1/endpoints/"+ep1+"/secret", "", keyBytes); code != 200 || !strings.Contains(b, rotated) {
		t.Fatalf("GET secret: %d %s", code, b)
	}
	// Wrong keys, some close to the real one.
	for _, k := range []string{keyBytes[:len(keyBytes)-1], keyBytes + "x", "hk_" + strings.Repeat("Z", 43), "Bearer " + keyBytes} {
		code, b := call("GET", "/v1/endpoints", "", k)
		if code != 401 {
			t.Fatalf("wrong key: %d", code)
		}
		shown = append(shown, b)
		apiKeys = append(apiKeys, k)
	}
	// A tenant key: shown once, at creation; used, listed, revoked, refused.
	code, b = call("POST", "/v1/keys", `{"tenant":"acme","name":"acme production"}`, keyBytes)
	var tk struct{ ID, Key string }
	if code != 201 || json.Unmarshal([]byte(b), &tk) != nil || tk.Key == "" {
		t.Fatalf("create key: %d %s", code, b)
	}
	apiKeys = append(apiKeys, tk.Key)
	if code, b := call("GET", "/v1/endpoints", "", tk.Key); code != 200 {
		t.Fatalf("tenant key: %d %s", code, b)
	} else {
		shown = append(shown, b)
	}
	for _, c := range []struct {
		method, path string
		want         int
	}{{"GET", "/v1/keys", 200}, {"DELETE", "/v1/keys/" + tk.ID, 204}} {
		code, b := call(c.method, c.path, "", keyBytes)
		if code != c.want {
			t.Fatalf("%s %s: %d %s", c.method, c.path, code, b)
		}
		shown = append(shown, b)
	}
	if code, b := call("GET", "/v1/endpoints", "", tk.Key); code != 401 {
		t.Fatalf("revoked tenant key: %d %s", code, b)
	} else {
		shown = append(shown, b)
	}
	// Lists and reads show endpoints without secrets.
	for _, p := range []string{"/v1/endpoints", "/v1/endpoints/" + ep1, "/v1/endpoints/" + ep2, "/v1/stats"} {
		_, b := call("GET", p, "", keyBytes)
		shown = append(shown, b)
	}

	// Events to every endpoint, retried to the dead letter.
	for range 3 {
		if code, b := call("POST", "/v1/events", `{"type":"invoice.paid","data":{"n":1}}`, keyBytes); code != 202 {
			t.Fatalf("ingest: %d %s", code, b)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, st := call("GET", "/v1/stats", "", keyBytes)
		var stats struct{ Pending, Failed int }
		_ = json.Unmarshal([]byte(st), &stats)
		if stats.Pending == 0 && stats.Failed >= 7 { // the 410 endpoint is disabled after its first
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries did not fail in time: %s", st)
		}
		time.Sleep(20 * time.Millisecond) // polling the API, with a deadline
	}
	_, b = call("GET", "/v1/deliveries?limit=1000", "", keyBytes)
	shown = append(shown, b)
	var l struct{ Data []struct{ ID string } }
	if err := json.Unmarshal([]byte(b), &l); err != nil || len(l.Data) < 7 {
		t.Fatalf("deliveries: %v %s", err, b)
	}
	for _, d := range l.Data {
		_, a := call("GET", "/v1/deliveries/"+d.ID+"/attempts", "", keyBytes)
		shown = append(shown, a)
	}
	if hits.Load() < 9 {
		t.Fatalf("the failing receiver got %d attempts, want 9 (3 events, 3 attempts)", hits.Load())
	}
	_, metrics := call("GET", "/metrics", "", "")
	shown = append(shown, metrics)
	if !strings.Contains(metrics, "hookline_delivery_attempts_total") {
		t.Fatalf("metrics: %.300s", metrics)
	}

	logs := stderr.String() + stdout.String()
	if !strings.Contains(logs, "level=DEBUG") || !strings.Contains(logs, "status=401") || !strings.Contains(logs, "410") {
		t.Fatalf("the logs do not hold the debug lines, the 401s or the 410:\n%s", logs)
	}
	everything := logs + strings.Join(shown, "\n")
	for _, s := range secrets {
		for _, part := range []string{s, strings.TrimPrefix(s, "whsec_")} {
			if strings.Contains(everything, part) {
				t.Errorf("a signing secret is shown: %q", part)
			}
		}
	}
	for _, k := range apiKeys {
		k = strings.TrimPrefix(k, "Bearer ")
		if strings.Contains(everything, k) {
			t.Errorf("an API key is shown: %q", k)
		}
	}
}

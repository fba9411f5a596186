package main_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookline/hookline"
)

// verifier is a receiver that checks each request's signature with the
// secret the test says its path verifies with now, answers 200 when it
// verifies (or when the path has no secret) and 401 otherwise, and keeps
// every request it got.
type verifier struct {
	*httptest.Server
	mu      sync.Mutex
	secrets map[string]string // path → the only secret it accepts
	hits    []hit
}

// hit is one request a verifier got.
type hit struct {
	path, id string
	at       time.Time
	ok       bool // its signature verified (or the path checks none)
}

func newVerifier(t *testing.T) *verifier {
	v := &verifier{secrets: map[string]string{}}
	v.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		v.mu.Lock()
		secret := v.secrets[r.URL.Path]
		v.mu.Unlock()
		ok := true
		if secret != "" {
			wh, err := standardwebhooks.NewWebhook(secret)
			ok = err == nil && wh.Verify(body, r.Header) == nil
		}
		v.mu.Lock()
		v.hits = append(v.hits, hit{r.URL.Path, r.Header.Get("webhook-id"), time.Now(), ok})
		v.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(v.Close)
	return v
}

// accept makes path accept only secret from now on.
func (v *verifier) accept(path, secret string) {
	v.mu.Lock()
	v.secrets[path] = secret
	v.mu.Unlock()
}

// count returns how many requests to path arrived at or after since that
// verified (ok) or did not.
func (v *verifier) count(path string, since time.Time, ok bool) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, h := range v.hits {
		if h.path == path && !h.at.Before(since) && h.ok == ok {
			n++
		}
	}
	return n
}

// span returns the arrival of the first and last requests to path at or
// after since that verified (ok) or did not, relative to since (-1 when
// none).
func (v *verifier) span(path string, since time.Time, ok bool) (first, last time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	first, last = -1, -1
	for _, h := range v.hits {
		if h.path == path && !h.at.Before(since) && h.ok == ok {
			if d := h.at.Sub(since); first < 0 || d < first {
				first = d
			}
			if d := h.at.Sub(since); d > last {
				last = d
			}
		}
	}
	return first, last
}

// delivered returns the webhook-ids that reached any of paths and verified.
func (v *verifier) delivered(paths ...string) map[string]bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string]bool{}
	for _, h := range v.hits {
		for _, p := range paths {
			if h.path == p && h.ok {
				out[h.id] = true
			}
		}
	}
	return out
}

// endpointVersion returns the latest endpoint write a node applied
// (hookline_endpoint_version on /metrics), or -1 when it does not say.
func (p *proc) endpointVersion() float64 {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(p.url + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "hookline_endpoint_version "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return -1
			}
			return f
		}
	}
	return -1
}

// poll calls cond every 20 ms until it holds or d passes, and returns its
// last answer.
func poll(d time.Duration, cond func() (bool, string)) (bool, string) {
	deadline := time.Now().Add(d)
	for {
		ok, state := cond()
		if ok || time.Now().After(deadline) {
			return ok, state
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterEndpointChanges changes endpoints through node A while node B,
// which owns them, holds their deliveries in memory (each endpoint limited
// to 10 requests/s, 50 events queued: five seconds of work): a new URL, a
// secret rotated with no grace period (the receiver accepts the new secret
// only from then on), a disabled endpoint and a deleted one. Within a second
// of the call's answer, B sends to the new URL only, signs with the new
// secret only, and sends nothing more to the disabled and deleted endpoints;
// everything queued reaches the new URL, or is signed again with the new
// secret. The first retry comes after 5 s, as by default, so that a retry
// paging a delivery in with a fresh snapshot does not hide a stale queue,
// and no circuit opens.
func TestClusterEndpointChanges(t *testing.T) {
	const (
		events = 50
		bound  = time.Second // from the answer to the change to the last request that ignores it
	)
	db := clusterDatabase(t)
	// No circuit opens: it would stop the requests that ignore a change.
	flags := []string{"--retry-schedule", "0s,5s,5s,5s,5s", "--breaker-failures", "1000"}
	a, b := clusterNode(t, db, "a", flags...), clusterNode(t, db, "b", flags...)
	nodes := []*proc{a, b}
	eventually(t, 15*time.Second, "2 nodes sharing the partitions", func() (bool, string) {
		c := owned(nodes)
		return settled(c), fmt.Sprint(c)
	})
	v := newVerifier(t)
	cases := []string{"url", "rotate", "disable", "delete"}
	eps := map[string]endpointJSON{}
	owners := leaseOwners(t, db)
	for i := 0; len(eps) < len(cases); i++ {
		if i == 100 {
			t.Fatal("no 4 endpoints of 100 hash into b's partitions")
		}
		name := cases[len(eps)]
		var ep endpointJSON
		if code := a.do(t, "POST", "/v1/endpoints", map[string]any{"url": v.URL + "/" + name, "rate_limit": 10,
			"event_types": []string{"t." + name}}, &ep); code != 201 {
			t.Fatalf("create endpoint: %d", code)
		}
		if owners[hookline.PartitionOf(ep.ID)] != "b" {
			a.do(t, "DELETE", "/v1/endpoints/"+ep.ID, nil, nil)
			continue
		}
		eps[name] = ep
		v.accept("/"+name, ep.Secret)
	}
	// The events go to b, which owns the endpoints: their deliveries are
	// queued in its memory at once.
	accepted := map[string][]string{}
	for _, name := range cases {
		var batch []map[string]any
		for i := range events {
			batch = append(batch, map[string]any{"type": "t." + name, "data": map[string]int{"i": i}})
		}
		var res struct{ Data []eventResult }
		if code := b.do(t, "POST", "/v1/events/batch", map[string]any{"events": batch}, &res); code != 202 {
			t.Fatalf("POST /v1/events/batch: %d", code)
		}
		for _, r := range res.Data {
			accepted[name] = append(accepted[name], r.ID)
		}
	}
	epoch := time.Time{}
	eventually(t, 15*time.Second, "the first deliveries of every endpoint", func() (bool, string) {
		var counts []int
		for _, name := range cases {
			counts = append(counts, v.count("/"+name, epoch, true))
		}
		for _, c := range counts {
			if c < 3 {
				return false, fmt.Sprint(counts)
			}
		}
		return true, fmt.Sprint(counts)
	})

	changed := map[string]time.Time{}
	before := b.endpointVersion()
	if code := a.do(t, "PATCH", "/v1/endpoints/"+eps["url"].ID, map[string]any{"url": v.URL + "/url-new"}, nil); code != 200 {
		t.Fatalf("PATCH url: %d", code)
	}
	changed["url"] = time.Now()
	// How long b takes to apply a's write (polled every 20 ms).
	took := eventually(t, bound, "b applying the change of URL", func() (bool, string) {
		now := b.endpointVersion()
		return now > before, fmt.Sprintf("version %v, %v before", now, before)
	})
	t.Logf("b applied a's change of URL %s after a's answer (NOTIFY; the backstop poll is 1 s)", took)
	var rotated struct{ Secret string }
	if code := a.do(t, "POST", "/v1/endpoints/"+eps["rotate"].ID+"/secret/rotate",
		map[string]any{"expire_old_in": "0s"}, &rotated); code != 200 {
		t.Fatalf("rotate: %d", code)
	}
	v.accept("/rotate", rotated.Secret)
	changed["rotate"] = time.Now()
	if code := a.do(t, "PATCH", "/v1/endpoints/"+eps["disable"].ID, map[string]any{"disabled": true}, nil); code != 200 {
		t.Fatalf("PATCH disabled: %d", code)
	}
	changed["disable"] = time.Now()
	if code := a.do(t, "DELETE", "/v1/endpoints/"+eps["delete"].ID, nil, nil); code != 204 {
		t.Fatalf("DELETE: %d", code)
	}
	changed["delete"] = time.Now()
	if code := b.do(t, "GET", "/v1/endpoints/"+eps["delete"].ID, nil, nil); code != 404 {
		t.Errorf("GET the deleted endpoint on b: %d, want 404", code)
	}

	// Let b work through what it queued, with time for what ignored the
	// changes to show: the queues held five seconds of work.
	if ok, state := poll(30*time.Second, func() (bool, string) {
		url := v.delivered("/url", "/url-new")
		rot := v.delivered("/rotate")
		n, m := 0, 0
		for _, id := range accepted["url"] {
			if url[id] {
				n++
			}
		}
		for _, id := range accepted["rotate"] {
			if rot[id] {
				m++
			}
		}
		return n == events && m == events, fmt.Sprintf("url: %d of %d, rotate: %d of %d", n, events, m, events)
	}); !ok {
		t.Errorf("not every event reached the new URL or verified with the new secret: %s", state)
	}
	if ok, state := poll(15*time.Second, func() (bool, string) {
		var l struct{ Data []deliveryJSON }
		a.do(t, "GET", "/v1/deliveries?status=pending&endpoint_id="+eps["disable"].ID, nil, &l)
		return len(l.Data) == 0, fmt.Sprintf("%d pending", len(l.Data))
	}); !ok {
		t.Errorf("deliveries of the disabled endpoint left pending: %s", state)
	}
	_, lastOld := v.span("/url", changed["url"], true)
	firstNew, _ := v.span("/url-new", changed["url"], true)
	_, lastOldSecret := v.span("/rotate", changed["rotate"], false)
	t.Logf("after the answer: last request to the old URL %s, first to the new %s; last signed with the old secret only %s",
		lastOld, firstNew, lastOldSecret)
	if n := v.count("/url", changed["url"].Add(bound), true); n > 0 {
		t.Errorf("%d requests to the old URL later than %s after the change", n, bound)
	}
	if n := v.count("/url-new", epoch, true); n == 0 {
		t.Errorf("no request to the new URL")
	}
	if n := v.count("/rotate", changed["rotate"].Add(bound), false); n > 0 {
		t.Errorf("%d requests signed with the old secret only, later than %s after the rotation", n, bound)
	}
	for _, name := range []string{"disable", "delete"} {
		if n := v.count("/"+name, changed[name].Add(bound), true); n > 0 {
			t.Errorf("%d requests to the %sd endpoint later than %s after the change", n, name, bound)
		}
		after := v.count("/"+name, changed[name], true)
		t.Logf("%s: %d of %d events delivered before the change, %d after", name, v.count("/"+name, epoch, true)-after, events, after)
	}
}

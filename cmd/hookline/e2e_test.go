package main_test

import (
	"net/http"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

type endpointJSON struct {
	ID       string `json:"id"`
	URL      string `json:"url"`
	Secret   string `json:"secret"`
	Disabled bool   `json:"disabled"`
}

type eventResult struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Deliveries int    `json:"deliveries"`
}

type deliveryJSON struct {
	ID             string `json:"id"`
	EventID        string `json:"event_id"`
	Status         string `json:"status"`
	Attempts       int    `json:"attempts"`
	LastStatusCode int    `json:"last_status_code"`
}

type list[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// TestEndToEnd runs the real binary: it delivers a signed event, retries a
// failing receiver into the dead-letter state, recovers, replays, retries one
// delivery, honours idempotency keys, and shuts down cleanly on SIGTERM.
func TestEndToEnd(t *testing.T) {
	p := serve(t, nil, "--data-dir", t.TempDir(), "--allow-private-networks", "--retry-schedule", "0s,20ms,20ms")
	good, bad := newSink(t), newSink(t)
	bad.setStatus(500)

	var ep endpointJSON
	if code := p.do(t, "POST", "/v1/endpoints", map[string]any{"url": good.URL + "/hook", "event_types": []string{"order.*"}}, &ep); code != 201 {
		t.Fatalf("create endpoint: %d", code)
	}
	var failing endpointJSON
	p.do(t, "POST", "/v1/endpoints", map[string]any{"url": bad.URL, "event_types": []string{"invoice.paid"}}, &failing)

	// Delivered, signed, verifiable with the official library.
	var ev eventResult
	if code := p.do(t, "POST", "/v1/events", map[string]any{"type": "order.created", "data": map[string]any{"n": 1}}, &ev); code != 202 || ev.Deliveries != 1 {
		t.Fatalf("send event: %d %+v", code, ev)
	}
	waitFor(t, 10*time.Second, "delivery", func() bool { return good.count(ev.ID) == 1 })
	wh, _ := standardwebhooks.NewWebhook(ep.Secret)
	good.mu.Lock()
	err := wh.Verify(good.bodies[ev.ID], good.hdrs[ev.ID])
	good.mu.Unlock()
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	var ds list[deliveryJSON]
	waitFor(t, 10*time.Second, "delivered status", func() bool {
		p.do(t, "GET", "/v1/deliveries?event_id="+ev.ID, nil, &ds)
		return len(ds.Data) == 1 && ds.Data[0].Status == "delivered"
	})
	var atts list[map[string]any]
	if code := p.do(t, "GET", "/v1/deliveries/"+ds.Data[0].ID+"/attempts", nil, &atts); code != 200 || len(atts.Data) != 1 || atts.Data[0]["status_code"].(float64) != 200 {
		t.Fatalf("attempts: %d %+v", code, atts)
	}

	// A failing receiver: retried, then dead-lettered.
	var inv eventResult
	p.do(t, "POST", "/v1/events", map[string]any{"type": "invoice.paid", "data": 1}, &inv)
	var dead list[deliveryJSON]
	waitFor(t, 10*time.Second, "dead letter", func() bool {
		p.do(t, "GET", "/v1/deliveries?status=failed&endpoint_id="+failing.ID, nil, &dead)
		return len(dead.Data) == 1
	})
	if dead.Data[0].Attempts != 3 || bad.count(inv.ID) != 3 {
		t.Fatalf("dead letter after %d attempts, receiver saw %d", dead.Data[0].Attempts, bad.count(inv.ID))
	}

	// Recover the endpoint's failures once the receiver is fixed.
	bad.setStatus(200)
	var rec struct{ Requeued int }
	if code := p.do(t, "POST", "/v1/endpoints/"+failing.ID+"/recover", map[string]any{}, &rec); code != 202 || rec.Requeued != 1 {
		t.Fatalf("recover: %d %+v", code, rec)
	}
	waitFor(t, 10*time.Second, "recovered delivery", func() bool { return bad.count(inv.ID) == 4 })
	var d deliveryJSON
	waitFor(t, 10*time.Second, "recovered status", func() bool {
		p.do(t, "GET", "/v1/deliveries/"+dead.Data[0].ID, nil, &d)
		return d.Status == "delivered" && d.Attempts == 4
	})

	// Retry one delivery, replay a whole event.
	if code := p.do(t, "POST", "/v1/deliveries/"+d.ID+"/retry", nil, nil); code != 202 {
		t.Fatalf("retry: %d", code)
	}
	waitFor(t, 10*time.Second, "retried delivery", func() bool { return bad.count(inv.ID) == 5 })
	var rep struct{ Deliveries int }
	if code := p.do(t, "POST", "/v1/events/"+ev.ID+"/replay", nil, &rep); code != 202 || rep.Deliveries != 1 {
		t.Fatalf("replay: %d %+v", code, rep)
	}
	waitFor(t, 10*time.Second, "replayed delivery", func() bool { return good.count(ev.ID) == 2 })

	// Idempotency: the same key returns the first answer and creates nothing.
	body := map[string]any{"type": "order.paid", "data": map[string]any{"n": 2}}
	var first, second eventResult
	p.do(t, "POST", "/v1/events", body, &first, "Idempotency-Key", "k-1")
	if code := p.do(t, "POST", "/v1/events", body, &second, "Idempotency-Key", "k-1"); code != 202 || second != first {
		t.Fatalf("idempotent replay: %d %+v, want %+v", code, second, first)
	}
	body["data"] = map[string]any{"n": 3}
	if code := p.do(t, "POST", "/v1/events", body, nil, "Idempotency-Key", "k-1"); code != http.StatusConflict {
		t.Fatalf("key reused with another body: %d, want 409", code)
	}
	waitFor(t, 10*time.Second, "idempotent delivery", func() bool { return good.count(first.ID) == 1 })
	var all list[deliveryJSON]
	p.do(t, "GET", "/v1/deliveries?event_id="+first.ID, nil, &all)
	if len(all.Data) != 1 {
		t.Fatalf("%d deliveries for an idempotent event, want 1", len(all.Data))
	}

	p.stop(t)
}

package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCrashLosesNoAcceptedEvent sends events from many clients at once,
// kill -9s the process mid-stream, restarts it on the same data dir, and
// checks that every event that got a 202 is delivered.
func TestCrashLosesNoAcceptedEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	dir := t.TempDir()
	args := []string{"--data-dir", dir, "--allow-private-networks", "--retry-schedule", "0s,10ms,10ms,10ms,10ms"}
	p := serve(t, nil, args...)
	rc := newSink(t)
	for range 3 {
		if code := p.do(t, "POST", "/v1/endpoints", map[string]any{"url": rc.URL}, nil); code != 201 {
			t.Fatalf("create endpoint: %d", code)
		}
	}

	var mu sync.Mutex
	var accepted []string
	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for c := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body, _ := json.Marshal(map[string]any{"type": "crash.test", "data": map[string]int{"client": c, "i": i}})
				req, _ := http.NewRequest("POST", p.url+"/v1/events", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+p.key)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				sent.Add(1)
				if err != nil {
					return // the process is gone
				}
				var res struct{ ID string }
				json.NewDecoder(resp.Body).Decode(&res)
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					mu.Lock()
					accepted = append(accepted, res.ID)
					mu.Unlock()
				}
			}
		}()
	}
	// Kill it once enough events are on their way, deliveries still running.
	waitFor(t, 30*time.Second, "traffic", func() bool { return sent.Load() >= 1500 })
	p.kill()
	close(stop)
	wg.Wait()
	mu.Lock()
	ids := append([]string(nil), accepted...)
	mu.Unlock()
	if len(ids) < 1000 {
		t.Fatalf("only %d events accepted before the kill", len(ids))
	}

	p = serve(t, nil, args...)
	waitFor(t, 60*time.Second, "every accepted event delivered", func() bool {
		for _, id := range ids {
			if rc.count(id) < 3 {
				return false
			}
		}
		return true
	})
	missing := 0
	for _, id := range ids {
		if rc.count(id) < 3 {
			missing++
		}
	}
	if missing > 0 {
		t.Fatal(fmt.Sprintf("%d of %d accepted events not delivered", missing, len(ids)))
	}
	p.stop(t)
}

package web

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeStatsAPI answers GET /v1/stats and counts the calls.
type fakeStatsAPI struct{ calls atomic.Int64 }

func (f *fakeStatsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/stats" || r.Header.Get("Authorization") != "Bearer k" {
		http.Error(w, `{"error":"not_found","message":"no"}`, 404)
		return
	}
	f.calls.Add(1)
	_, _ = io.WriteString(w, `{"pending":1,"delivered":2,"failed":0,"events":1,"endpoints":1,"deliveries_per_second":1.5,"success_rate":1,"latency_ms":{"p50":2,"p99":9}}`)
}

// event is one Server-Sent Event as read.
type sseEvent struct {
	name, data string
	at         time.Time
}

// openStream opens GET /live as the session of sid and sends its events on
// the returned channel, closed when the stream ends.
func openStream(t *testing.T, srv *httptest.Server, sid string) <-chan sseEvent {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"/live", nil)
	req.AddCookie(&http.Cookie{Name: operatorCookie, Value: sid})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	ch := make(chan sseEvent, 100)
	go func() {
		defer close(ch)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev.name != "":
				ev.at = time.Now()
				ch <- ev
				ev = sseEvent{}
			}
		}
	}()
	return ch
}

// next returns the next event of ch, failing after 5 s.
func next(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	return sseEvent{}
}

func TestLiveStream(t *testing.T) {
	api := &fakeStatsAPI{}
	h := New(Config{APIKey: "k", Secret: make([]byte, 32), SampleInterval: time.Hour})
	h.Attach(api)
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close()
	sid := h.sessions.create(&session{key: "k", expires: time.Now().Add(time.Hour)})

	streams := []<-chan sseEvent{openStream(t, srv, sid), openStream(t, srv, sid), openStream(t, srv, sid)}
	for _, s := range streams {
		if ev := next(t, s); ev.name != "snapshot" || !strings.Contains(ev.data, `"series"`) {
			t.Fatalf("first event %+v, want the snapshot", ev)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.hub.Len() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers, want 3", h.hub.Len())
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}

	t.Run("Coalesced", func(t *testing.T) {
		// A burst of 50 updates reaches each stream as at most a few writes,
		// StreamInterval apart, the last one being the latest update.
		for i := 1; i <= 50; i++ {
			h.hub.Publish(Update{Version: uint64(100 + i), Data: []byte(`{"n":` + itoa(i) + `}`)})
		}
		for _, s := range streams {
			var got []sseEvent
			for len(got) == 0 || got[len(got)-1].data != `{"n":50}` {
				got = append(got, next(t, s))
				if len(got) > 3 {
					t.Fatalf("%d writes for one burst: %+v", len(got), got)
				}
			}
			for i := 1; i < len(got); i++ {
				if gap := got[i].at.Sub(got[i-1].at); gap < StreamInterval-50*time.Millisecond {
					t.Fatalf("two writes %v apart, want at least %v", gap, StreamInterval)
				}
			}
		}
	})
	t.Run("OneStatsReadPerSampleWhateverTheTabs", func(t *testing.T) {
		before := api.calls.Load()
		var v uint64
		var last [5]int64
		for range 5 {
			h.sampleOnce(&v, &last)
		}
		if n := api.calls.Load() - before; n != 5 {
			t.Fatalf("%d stats reads for 5 samples with 3 tabs open, want 5", n)
		}
		ev := next(t, streams[0])
		if ev.name != "sample" || !strings.Contains(ev.data, `"deliveries_per_second":1.5`) {
			t.Fatalf("sample %+v", ev)
		}
		if s, ok := h.series.Last(); !ok || s.Rate != 1.5 || s.P99 != 9 || s.Pending != 1 {
			t.Fatalf("last sample %+v", s)
		}
	})
	t.Run("CloseEndsStreams", func(t *testing.T) {
		h.Close()
		for _, s := range streams {
			deadline := time.After(5 * time.Second)
		drain:
			for {
				select {
				case _, ok := <-s:
					if !ok {
						break drain
					}
				case <-deadline:
					t.Fatal("stream still open after Close")
				}
			}
		}
	})
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

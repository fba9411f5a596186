package delivery_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/delivery"
	"github.com/hookline/hookline/signature"
	"github.com/hookline/hookline/sqlite"
)

// BenchmarkEngineDeliver measures the engine's plain path end to end on
// SQLite: events ingested 100 to a request, each delivered to one endpoint
// without request options, until the receiver has them all.
func BenchmarkEngineDeliver(b *testing.B) {
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "hookline.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var got, target atomic.Int64
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if got.Add(1) == target.Load() {
			close(done)
		}
	}))
	defer srv.Close()
	e := delivery.New(delivery.Config{Store: s, AllowPrivateNetworks: true, PollInterval: 20 * time.Millisecond})
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = e.Close(ctx)
	}()
	now := hookline.Now()
	ep := &hookline.Endpoint{ID: hookline.NewID(hookline.EndpointPrefix, now), URL: srv.URL,
		Secret: signature.GenerateSecret(), CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEndpoint(ctx, ep); err != nil {
		b.Fatal(err)
	}
	target.Store(int64(b.N))
	data := json.RawMessage(`{"amount":42,"currency":"EUR"}`)
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += 100 {
		evs := make([]*hookline.Event, min(100, b.N-sent))
		for i := range evs {
			evs[i] = &hookline.Event{Type: "invoice.paid", Data: data}
		}
		if _, err := e.Ingest(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatalf("%d of %d delivered", got.Load(), b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

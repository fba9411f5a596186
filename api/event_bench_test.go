package api

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// nopEngine accepts every event at once, so that a benchmark measures the
// API alone.
type nopEngine struct{ Engine }

func (nopEngine) Ingest(_ context.Context, events []*hookline.Event) ([]hookline.IngestResult, error) {
	res := make([]hookline.IngestResult, len(events))
	for i, ev := range events {
		res[i] = hookline.IngestResult{ID: "evt_01JBENCH0000000000000000000", Type: ev.Type, Deliveries: 1}
	}
	return res, nil
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkCreateEvent measures POST /v1/events through the whole handler —
// auth, routing, decoding, validation, answer — without the store.
func BenchmarkCreateEvent(b *testing.B) {
	for _, bc := range []struct {
		name string
		key  string
	}{{"NoKey", ""}, {"IdempotencyKey", "order-1234"}} {
		b.Run(bc.name, func(b *testing.B) {
			s := NewServer(Config{
				Engine: nopEngine{},
				APIKey: testKey,
				Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
			})
			body := []byte(`{"type":"invoice.paid","data":{"id":"in_1234","amount":4200,"currency":"eur","customer":{"id":"cus_1","email":"a@example.com"}}}`)
			req, _ := http.NewRequest("POST", "http://hookline/v1/events", nil)
			req.Header.Set("Authorization", "Bearer "+testKey)
			req.Header.Set("Content-Type", "application/json")
			if bc.key != "" {
				req.Header.Set("Idempotency-Key", bc.key)
			}
			req.ContentLength = int64(len(body))
			rd := bytes.NewReader(body)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			start := time.Now()
			for b.Loop() {
				rd.Reset(body)
				req.Body = io.NopCloser(rd)
				clear(w.h)
				s.ServeHTTP(w, req)
				if w.status != http.StatusAccepted {
					b.Fatalf("status %d", w.status)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}

// BenchmarkCreateEventHTTP measures POST /v1/events over loopback HTTP/1.1
// with keep-alive, many clients at once, without the store: the ceiling the
// API and net/http put on ingest. Client and server share the CPUs.
func BenchmarkCreateEventHTTP(b *testing.B) {
	srv := httptest.NewServer(NewServer(Config{
		Engine: nopEngine{},
		APIKey: testKey,
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}))
	defer srv.Close()
	tr := srv.Client().Transport.(*http.Transport)
	tr.MaxIdleConnsPerHost = 64
	body := []byte(`{"type":"invoice.paid","data":{"id":"in_1234","amount":4200,"currency":"eur"}}`)
	b.ReportAllocs()
	b.SetParallelism(8)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		client := srv.Client()
		for pb.Next() {
			req, _ := http.NewRequest("POST", srv.URL+"/v1/events", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+testKey)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

package sender

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// BenchmarkSend measures one attempt to a local receiver over a kept
// connection: the plain path (no request options), which endpoints'
// options must not slow.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	s := New(Options{AllowPrivateNetworks: true, Timeout: 5 * time.Second, IdleConnsPerHost: 4, UserAgent: "bench"})
	defer s.CloseIdleConnections()
	req := &Request{URL: srv.URL, ID: "msg_1", Timestamp: 1, Signature: "v1,c2lnbmF0dXJl", Body: make([]byte, 512)}
	ctx, now := context.Background(), time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if r := s.Send(ctx, req, now); !r.Success {
			b.Fatal(r.Err)
		}
	}
}

// BenchmarkSendHeaders is BenchmarkSend to an endpoint with two headers
// and Basic auth: what a profile adds.
func BenchmarkSendHeaders(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	s := New(Options{AllowPrivateNetworks: true, Timeout: 5 * time.Second, IdleConnsPerHost: 4, UserAgent: "bench"})
	defer s.CloseIdleConnections()
	p, err := s.Profile(&hookline.Endpoint{Headers: map[string]string{"X-Api-Key": "k", "X-Region": "eu"},
		Auth: &hookline.EndpointAuth{Type: hookline.AuthBasic, Username: "u", Password: "p"}})
	if err != nil {
		b.Fatal(err)
	}
	req := &Request{URL: srv.URL, ID: "msg_1", Timestamp: 1, Signature: "v1,c2lnbmF0dXJl", Body: make([]byte, 512), Profile: p}
	ctx, now := context.Background(), time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if r := s.Send(ctx, req, now); !r.Success {
			b.Fatal(r.Err)
		}
	}
}

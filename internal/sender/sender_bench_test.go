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

// benchReceiver starts a receiver that reads each request and answers 200.
func benchReceiver(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkSend measures one attempt to a local receiver over a kept
// connection: the plain path (no request options), which endpoints'
// options must not slow.
func BenchmarkSend(b *testing.B) {
	srv := benchReceiver(b)
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
	srv := benchReceiver(b)
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

// cannedTransport answers every request with 204, without a network.
type cannedTransport struct{}

func (cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 204, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
}

// BenchmarkSendCPU is BenchmarkSend without the network (a transport that
// answers at once): the sender's own work per attempt, which the machine's
// other load disturbs less.
func BenchmarkSendCPU(b *testing.B) {
	s := New(Options{Timeout: 5 * time.Second, UserAgent: "bench", Client: &http.Client{Transport: cannedTransport{}}})
	req := &Request{URL: "http://receiver.example/hook", ID: "msg_1", Timestamp: 1, Signature: "v1,c2lnbmF0dXJl", Body: make([]byte, 512)}
	ctx, now := context.Background(), time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if r := s.Send(ctx, req, now); !r.Success {
			b.Fatal(r.Err)
		}
	}
}

// BenchmarkSendParallel is BenchmarkSend from 32 goroutines at once, as the
// engine's workers send: on a machine whose cores are all busy, its time a
// request is the two sides' CPU, which the transport's goroutines add to.
func BenchmarkSendParallel(b *testing.B) {
	srv := benchReceiver(b)
	s := New(Options{AllowPrivateNetworks: true, Timeout: 5 * time.Second, IdleConnsPerHost: 64, UserAgent: "bench"})
	defer s.CloseIdleConnections()
	req := &Request{URL: srv.URL, ID: "msg_1", Timestamp: 1, Signature: "v1,c2lnbmF0dXJl", Body: make([]byte, 512)}
	now := time.Now()
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := s.Send(context.Background(), req, now); !r.Success {
				b.Error(r.Err)
				return
			}
		}
	})
}

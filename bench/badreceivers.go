package bench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// The kinds of misbehaving endpoint of bad-receivers, in the order their
// endpoints follow the healthy ones.
const (
	// BadHang accepts the request and never answers, until the phase ends:
	// every attempt lasts the server's delivery timeout.
	BadHang = "hang"
	// BadSlow answers 200 after slowAnswer: a success, but a slow one.
	BadSlow = "slow"
	// BadRefuse is a loopback port with no listener: connection refused.
	BadRefuse = "refuse"
	// BadFail answers 500 at once.
	BadFail = "500"
)

// BadKinds lists the kinds of misbehaving endpoint, in endpoint order.
var BadKinds = []string{BadHang, BadSlow, BadRefuse, BadFail}

// slowAnswer is how long a BadSlow endpoint takes to answer 200.
const slowAnswer = 2 * time.Second

// healthyEndpoints returns how many of n endpoints of bad-receivers are
// healthy: those left after a tenth of n for each bad kind.
func healthyEndpoints(n int) int { return n - len(BadKinds)*(n/10) }

// badReceivers play the misbehaving endpoints of bad-receivers: each
// endpoint has its own loopback port (a host of its own for the server's
// connection pools), and each kind counts the requests it gets.
type badReceivers struct {
	first int        // index of the first bad endpoint
	per   int        // endpoints per kind
	urls  [][]string // by kind, by endpoint

	servers []*http.Server
	stop    chan struct{}  // closed by close: hanging and slow requests end
	counts  []atomic.Int64 // requests received, by kind
}

// startBadReceivers starts per endpoints of each bad kind, numbered from
// first on.
func startBadReceivers(first, per int) (*badReceivers, error) {
	b := &badReceivers{first: first, per: per, urls: make([][]string, len(BadKinds)),
		stop: make(chan struct{}), counts: make([]atomic.Int64, len(BadKinds))}
	for k, kind := range BadKinds {
		var srv *http.Server
		if kind != BadRefuse {
			srv = &http.Server{Handler: b.handler(k), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
			b.servers = append(b.servers, srv)
		}
		for i := range per {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.close()
				return nil, fmt.Errorf("bad receiver listen: %w", err)
			}
			b.urls[k] = append(b.urls[k], fmt.Sprintf("http://%s/r/%d", ln.Addr(), first+k*per+i))
			if srv == nil {
				// A port that was free a moment ago and now has no
				// listener: the server's dial is refused.
				ln.Close()
				continue
			}
			go func() { _ = srv.Serve(ln) }()
		}
	}
	return b, nil
}

// handler answers the requests of kind k.
func (b *badReceivers) handler(k int) http.Handler {
	kind := BadKinds[k]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.counts[k].Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		switch kind {
		case BadHang:
			select {
			case <-r.Context().Done():
			case <-b.stop:
			}
			// Drop the connection without an answer (a handler that just
			// returned would answer 200).
			panic(http.ErrAbortHandler)
		case BadSlow:
			t := time.NewTimer(slowAnswer)
			defer t.Stop()
			select {
			case <-t.C:
				w.WriteHeader(http.StatusOK)
			case <-r.Context().Done():
			case <-b.stop:
				panic(http.ErrAbortHandler)
			}
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
}

// urlsInOrder returns the endpoints' URLs in endpoint order.
func (b *badReceivers) urlsInOrder() []string {
	var out []string
	for _, u := range b.urls {
		out = append(out, u...)
	}
	return out
}

// requests returns the requests received so far, by kind.
func (b *badReceivers) requests() map[string]int64 {
	m := make(map[string]int64, len(BadKinds))
	for k, kind := range BadKinds {
		m[kind] = b.counts[k].Load()
	}
	return m
}

// close ends the requests held open and stops the servers.
func (b *badReceivers) close() error {
	select {
	case <-b.stop:
		return nil
	default:
	}
	close(b.stop)
	var errs []error
	for _, s := range b.servers {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

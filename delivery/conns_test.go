package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/delivery"
)

// TestEndpointsOnOneHostKeepTheirConnections sends to four endpoints that
// share one receiver (one host and port, four paths), two requests in
// flight each, in two waves of eight requests held until all eight have
// arrived: the second wave goes over the eight connections of the first.
// Before, the sender kept as many idle connections per host as one
// endpoint may have in flight (two), closed the other six after the first
// wave and dialled six again: connection churn, and on HTTPS a TLS
// handshake per request, wherever endpoints share a host.
func TestEndpointsOnOneHostKeepTheirConnections(t *testing.T) {
	const (
		endpoints = 4
		perEP     = 2
		wave      = endpoints * perEP
	)
	var (
		dialled atomic.Int64
		mu      sync.Mutex
		arrived int
		waves   = []chan struct{}{make(chan struct{}), make(chan struct{})}
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		arrived++
		n := arrived
		mu.Unlock()
		w0 := (n - 1) / wave
		if w0 >= len(waves) {
			t.Errorf("request %d: more than two waves (a delivery failed and was sent again)", n)
			return
		}
		if n%wave == 0 {
			close(waves[w0]) // every request of this wave is in flight at once
		}
		<-waves[w0]
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialled.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	b := setup(t, delivery.Config{MaxInFlightPerEndpoint: perEP})
	for i := range endpoints {
		b.endpoint(t, fmt.Sprintf("%s/ep/%d", srv.URL, i))
	}
	var ids []string
	for range 2 * perEP { // each event is one request to every endpoint
		res, err := b.engine.Ingest(context.Background(), []*hookline.Event{{Type: "order.created",
			Data: json.RawMessage(`{}`), Priority: hookline.DefaultPriority}}) // a lower one leaves a slot free
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res[0].ID)
	}
	waitFor(t, "both waves delivered", func() bool {
		for _, id := range ids {
			for _, d := range b.deliveries(t, id) {
				if d.Status != hookline.StatusDelivered {
					return false
				}
			}
		}
		return true
	})
	if n := dialled.Load(); n != wave {
		t.Errorf("the receiver saw %d connections for two waves of %d requests in flight; want %d, kept from one wave to the next", n, wave, wave)
	}
}

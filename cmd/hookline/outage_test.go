package main_test

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// dbProxy forwards TCP connections to PostgreSQL, and can refuse them: down
// closes the listening socket and every open connection, up listens again
// on the same address.
type dbProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
}

func newDBProxy(t *testing.T, target string) *dbProxy {
	p := &dbProxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	p.listen("127.0.0.1:0")
	t.Cleanup(p.down)
	return p
}

func (p *dbProxy) listen(addr string) {
	var ln net.Listener
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for ln, err = net.Listen("tcp", addr); err != nil; ln, err = net.Listen("tcp", addr) {
		if time.Now().After(deadline) {
			p.t.Fatalf("proxy: listen %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond) // the port was just closed: poll until it can be had again
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *dbProxy) forward(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // went down meanwhile
		p.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	p.conns[c], p.conns[s] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { io.Copy(s, c); s.Close() }()
	io.Copy(c, s)
	c.Close()
}

// down refuses new connections and cuts the open ones.
func (p *dbProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// up accepts connections again, on the same address.
func (p *dbProxy) up() { p.listen(p.addr) }

// via returns dbURL with its host replaced by the proxy's.
func (p *dbProxy) via(t *testing.T, dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.addr
	return u.String()
}

// TestClusterDatabaseOutageDuringTakeover kills one of two nodes and at
// once makes the database refuse connections for 10 s, longer than the
// lease timeout, so that the survivor must take over the dead node's
// partitions, and keep its own, across the outage. Meanwhile it answers
// ingest 503 (never a 202 it cannot keep) and reports not ready, and it
// does not exit; when the database is back it owns every partition within
// the lease timeout and a few ticks, and every event accepted before, and
// after, is delivered to every endpoint.
func TestClusterDatabaseOutageDuringTakeover(t *testing.T) {
	const (
		leaseTimeout = 3 * time.Second
		leaseTick    = leaseTimeout / 5
		outage       = 10 * time.Second
		endpoints    = 4
	)
	db := clusterDatabase(t)
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newDBProxy(t, u.Host)
	viaProxy := proxy.via(t, db)
	flags := []string{"--lease-timeout", leaseTimeout.String(), "--delivery-timeout", "2s"}
	nodes := []*proc{clusterNode(t, viaProxy, "n0", flags...), clusterNode(t, viaProxy, "n1", flags...)}
	eventually(t, 10*time.Second, "2 nodes sharing the partitions", func() (bool, string) {
		c := owned(nodes)
		return settled(c), ""
	})
	r := newRecorder(t)
	paths, _ := createEndpoints(t, nodes[0], r, endpoints)
	var acc []accepted
	send := func(n int) {
		for i := range n {
			var res eventResult
			code := nodes[0].do(t, "POST", "/v1/events", map[string]any{"type": "outage.test", "data": map[string]int{"i": i}}, &res)
			if code != 202 || res.Deliveries != endpoints {
				t.Fatalf("POST /v1/events: %d, %d deliveries", code, res.Deliveries)
			}
			acc = append(acc, accepted{res.ID, 0})
		}
	}
	send(50)

	nodes[1].kill()
	proxy.down()
	downAt := time.Now()
	t.Logf("n1 killed and the database refusing connections")
	// Ingest is refused, not accepted; readiness follows.
	var res eventResult
	if code := nodes[0].do(t, "POST", "/v1/events", map[string]any{"type": "outage.test", "data": map[string]int{}}, &res); code != 503 {
		t.Fatalf("POST /v1/events with the database down: %d, want 503", code)
	}
	eventually(t, outage-time.Since(downAt), "n0 not ready while the database is down", func() (bool, string) {
		for range 3 {
			nodes[0].do(t, "POST", "/v1/events", map[string]any{"type": "outage.test", "data": map[string]int{}}, nil)
		}
		return !nodes[0].ready(), ""
	})
	if rest := outage - time.Since(downAt); rest > 0 {
		select {
		case <-nodes[0].done:
			t.Fatalf("n0 exited during the outage: %v\n%s", nodes[0].waitErr, nodes[0].stderr)
		case <-time.After(rest):
		}
	}
	proxy.up()
	took := eventually(t, leaseTimeout+10*leaseTick, "n0 to own every partition", func() (bool, string) {
		n := nodes[0].partitions()
		return n == hookline.Partitions, ""
	})
	t.Logf("n0 owns every partition %s after the database came back", took.Round(time.Millisecond))
	eventually(t, 10*time.Second, "n0 ready again", func() (bool, string) { return nodes[0].ready(), "" })
	send(50)
	drained := waitDelivered(t, r, nodes[0], acc, paths, 30*time.Second)
	t.Logf("every one of %d deliveries received %s later; %d received twice", len(acc)*endpoints,
		drained.Round(time.Millisecond), len(r.duplicates()))
}

// ready reports whether the node answers /readyz with 200.
func (p *proc) ready() bool {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(p.url + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

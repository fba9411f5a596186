package main

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// silentGrace is how long a connection may have sent nothing, once the
// server is shutting down, before it is closed: time enough for a request
// that is on its way, far less than net/http's own 5 s.
const silentGrace = 500 * time.Millisecond

// silentConns tracks the connections on which no request has come yet, so
// that a graceful stop closes them. http.Server.Shutdown waits 5 s for such
// a connection before it treats it as idle; an HTTP client's pool dials a
// spare one whenever a request waits for a connection and keeps it unused,
// so under load almost every stop waited those 5 s, and a node in a cluster
// held its partitions as long.
type silentConns struct {
	mu    sync.Mutex
	since map[net.Conn]time.Time // the connections still in http.StateNew
}

// track is the server's ConnState hook.
func (s *silentConns) track(c net.Conn, state http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if state == http.StateNew {
		if s.since == nil {
			s.since = make(map[net.Conn]time.Time)
		}
		s.since[c] = time.Now()
		return
	}
	delete(s.since, c)
}

// closeSilent closes the connections that have sent nothing for grace.
func (s *silentConns) closeSilent(grace time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, t := range s.since {
		if time.Since(t) >= grace {
			_ = c.Close() // the server sees it closed and forgets it
			delete(s.since, c)
		}
	}
}

// shutdown runs srv.Shutdown(ctx), closing meanwhile every connection that
// has sent nothing for silentGrace.
func (s *silentConns) shutdown(ctx context.Context, srv *http.Server) error {
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(silentGrace / 5)
		defer t.Stop()
		for {
			s.closeSilent(silentGrace)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return srv.Shutdown(ctx)
}

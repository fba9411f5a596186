package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// ReceiveConfig configures Receive.
type ReceiveConfig struct {
	// Addr is the address to listen on, such as 127.0.0.1:9100.
	Addr string
	// Behavior is how to answer. Verify is not supported: the receiver does
	// not know the endpoints' secrets.
	Behavior Behavior
}

// Receive runs a counting receiver on cfg.Addr until ctx is done, for load
// generators other than `hookline bench` (such as loadtest/fanout-100.js):
// it answers every POST on any path as cfg.Behavior says and prints, once a
// second, the deliveries received in that second, and their end-to-end
// latency when the event data holds "sent_ns" (Unix nanoseconds). It prints
// a total when it stops.
func Receive(ctx context.Context, cfg ReceiveConfig, stdout io.Writer) error {
	if cfg.Behavior.Verify {
		return fmt.Errorf("receive: signature verification needs the secrets; not supported")
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	rs := &receivers{behavior: cfg.Behavior, addrs: []string{ln.Addr().String()}}
	rs.sinks.Store(&map[string]*sink{})
	total := newSink(1)
	rs.generic = total
	srv := &http.Server{Handler: rs, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	fmt.Fprintf(stdout, "receiving on http://%s/ (any path); Ctrl-C to stop\n", ln.Addr())

	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var prev int64
	total.perSecond.Store(NewHistogram())
	for {
		select {
		case <-ctx.Done():
			s := total.e2e.Summary()
			fmt.Fprintf(stdout, "total %d deliveries in %.0fs", total.received.Load(), time.Since(start).Seconds())
			if s.Count > 0 {
				fmt.Fprintf(stdout, "; end-to-end p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms", s.P50, s.P95, s.P99, s.Max)
			}
			fmt.Fprintln(stdout)
			return nil
		case now := <-tick.C:
			n := total.received.Load()
			second := total.perSecond.Swap(NewHistogram())
			line := fmt.Sprintf("%s  deliveries %6d/s  total %d", now.Format("15:04:05"), n-prev, n)
			if second.Count() > 0 {
				s := second.Summary()
				line += fmt.Sprintf("  e2e p50 %.1f ms p99 %.1f ms", s.P50, s.P99)
			}
			if f, h := rs.failed.Load(), rs.hung.Load(); f+h > 0 {
				line += fmt.Sprintf("  failed %d hung %d", f, h)
			}
			fmt.Fprintln(stdout, line)
			prev = n
		}
	}
}

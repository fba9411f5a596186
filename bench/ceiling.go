package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// CeilingReport is the raw ceiling: the receivers blasted directly by a
// plain net/http client, with as many requests in flight as the server has
// workers, with bodies and headers the size of a real delivery. The
// receivers apply their latency to these requests, but never fail them or
// leave them hanging on purpose.
type CeilingReport struct {
	Clients  int   `json:"clients"`
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	// Seconds is how long the measured part lasted (after a short warm-up).
	Seconds float64 `json:"seconds"`
	// PerSecond is deliveries per second over the measured part.
	PerSecond float64 `json:"deliveries_per_second"`
	// Latency is request to response, at the client.
	Latency Latency `json:"latency"`
}

// ceiling describes one ceiling measurement.
type ceiling struct {
	rs        *receivers
	sink      *sink // the receivers' sink for the ceiling's run
	run       string
	eventType string
	pad       string
	keys      [][]byte // per endpoint; nil when not verifying
	endpoints int
	clients   int
	duration  time.Duration
}

// measure runs the ceiling. Its requests carry a payload shaped like a
// delivery ({"id","type","timestamp","data"} with the same data size) and
// the same webhook-* headers; when the receivers verify signatures, each
// request is signed, as the server signs each attempt.
func (c *ceiling) measure(ctx context.Context) (*CeilingReport, error) {
	t := &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: c.clients,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	defer t.CloseIdleConnections()
	client := &http.Client{Transport: t, Timeout: 30 * time.Second}
	lat := NewHistogram()
	var ok, failed atomic.Int64
	var seq atomic.Uint64
	start := time.Now()
	warm := min(c.duration/4, 500*time.Millisecond)
	measureFrom, end := start.Add(warm), start.Add(warm+c.duration)
	var atFrom int64
	var fromOnce sync.Once

	var wg sync.WaitGroup
	for range c.clients {
		wg.Go(func() {
			var body []byte
			for ctx.Err() == nil {
				now := time.Now()
				if !now.Before(end) {
					return
				}
				if !now.Before(measureFrom) {
					fromOnce.Do(func() { atFrom = ok.Load() })
				}
				s := seq.Add(1) - 1
				ep := int(s % uint64(c.endpoints))
				id := fakeEventID(s)
				body = c.payload(body[:0], id, s, now)
				req, err := http.NewRequestWithContext(ctx, "POST", c.rs.url(ep), bytes.NewReader(body))
				if err != nil {
					failed.Add(1)
					continue
				}
				ts := strconv.FormatInt(now.Unix(), 10)
				sig := "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="
				if c.keys != nil {
					sig = sign(c.keys[ep], id, ts, body)
				}
				req.Header = http.Header{
					"Content-Type":      {"application/json"},
					"User-Agent":        {"hookline-bench-ceiling"},
					"Webhook-Id":        {id},
					"Webhook-Timestamp": {ts},
					"Webhook-Signature": {sig},
				}
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					failed.Add(1)
					continue
				}
				done := time.Now()
				if !now.Before(measureFrom) {
					lat.Record(done.Sub(now))
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fromOnce.Do(func() {})
	secs := time.Since(measureFrom).Seconds()
	r := &CeilingReport{
		Clients:  c.clients,
		Requests: ok.Load(),
		Errors:   failed.Load(),
		Seconds:  secs,
		Latency:  lat.Summary(),
	}
	if secs > 0 {
		r.PerSecond = float64(ok.Load()-atFrom) / secs
	}
	if r.Requests == 0 {
		return r, fmt.Errorf("ceiling: no request succeeded (%d errors)", r.Errors)
	}
	return r, nil
}

// payload appends a delivery-shaped body.
func (c *ceiling) payload(b []byte, id string, seq uint64, now time.Time) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, id...)
	b = append(b, `","type":"`...)
	b = append(b, c.eventType...)
	b = append(b, `","timestamp":"`...)
	b = now.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","data":`...)
	b = appendData(b, c.run, seq, now.UnixNano(), c.pad)
	return append(b, '}')
}

// fakeEventID returns an ID as long as a real one: "evt_" and 26
// characters.
func fakeEventID(seq uint64) string {
	const digits = "0123456789"
	b := []byte("evt_CEILING0000000000000000")
	for i := len(b) - 1; seq > 0 && i >= 11; i-- {
		b[i] = digits[seq%10]
		seq /= 10
	}
	return string(b)
}

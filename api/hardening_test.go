package api

import (
	"strings"
	"testing"

	"github.com/hookline/hookline"
)

// TestBoundedEcho checks that what a client sends is repeated in errors and
// logs only up to a bound, so that a request cannot make the answer or the
// log grow by its own size.
func TestBoundedEcho(t *testing.T) {
	t.Parallel()
	b := setup(t)
	long := strings.Repeat("A", 50_000)

	for _, tt := range []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"UnknownRoute", "GET", "/" + long, 404, hookline.ENOTFOUND},
		{"UnknownV1Route", "GET", "/v1/" + long, 404, hookline.ENOTFOUND},
		{"LongEndpointID", "GET", "/v1/endpoints/ep_" + long, 404, hookline.ENOTFOUND},
		{"LongEventID", "POST", "/v1/events/evt_" + long + "/replay", 404, hookline.ENOTFOUND},
		{"LongDeliveryID", "GET", "/v1/deliveries/dlv_" + long + "/attempts", 404, hookline.ENOTFOUND},
		{"LongMethod", strings.Repeat("X", 5000), "/v1/endpoints", 405, hookline.EMETHOD},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(b.logs.String())
			res := b.do(t, tt.method, tt.path, "")
			res.wantError(t, tt.status, tt.code, "bytes]")
			if len(res.body) > 1024 {
				t.Fatalf("an answer of %d bytes to a request of %d: %.300s", len(res.body), len(tt.path)+len(tt.method), res.body)
			}
			if grown := len(b.logs.String()) - before; grown > 1024 {
				t.Fatalf("the log grew by %d bytes", grown)
			}
		})
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	if got := clip("short", 10); got != "short" {
		t.Fatalf("clip(short) = %q", got)
	}
	if got := clip(strings.Repeat("x", 11), 10); got != "xxxxxxxxxx…[11 bytes]" {
		t.Fatalf("clip(11 x) = %q", got)
	}
	// A cut never splits a UTF-8 sequence.
	if got := clip("aaaaaaaaa€", 10); got != "aaaaaaaaa…[12 bytes]" {
		t.Fatalf("clip(€) = %q", got)
	}
}

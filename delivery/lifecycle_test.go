package delivery_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/delivery"
)

// TestRefusedDestinationFailsAtOnce sends to a receiver on an address the
// guard refuses: no retry can succeed while the configuration stands, so
// the delivery fails at its first attempt, saying why and what allows it,
// instead of being retried for the whole schedule.
func TestRefusedDestinationFailsAtOnce(t *testing.T) {
	b := setup(t, delivery.Config{
		AllowDestinations: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/16")},
		RetrySchedule:     []time.Duration{0, time.Hour, time.Hour},
	})
	rc := newReceiver(t, nil)
	b.endpoint(t, rc.URL)
	res := b.send(t, "a", `{}`)
	d := b.waitStatus(t, res.ID, hookline.StatusFailed)
	if d.Attempts != 1 || !strings.Contains(d.LastError, "--allow-destinations 127.0.0.1/32") || d.NextAttemptAt != nil {
		t.Fatalf("delivery %+v; want failed after one attempt, naming the flag", d)
	}
	if n := rc.count(); n != 0 {
		t.Fatalf("the receiver got %d requests", n)
	}
}

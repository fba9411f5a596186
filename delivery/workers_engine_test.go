package delivery_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/delivery"
)

// parkedWorkers counts the goroutines of the engine's attempt workers.
func parkedWorkers() int {
	buf := make([]byte, 4<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), "delivery.(*workers).work(")
}

// TestCloseRetiresParkedWorkers checks that the goroutines which made the
// attempts stay parked after them, and that Close makes them exit.
func TestCloseRetiresParkedWorkers(t *testing.T) {
	b := setup(t, delivery.Config{})
	rc := newReceiver(t, nil)
	b.endpoint(t, rc.URL+"/hook")
	var ids []string
	for range 20 {
		ids = append(ids, b.send(t, "invoice.paid", `{"n":1}`).ID)
	}
	for _, id := range ids {
		b.waitStatus(t, id, hookline.StatusDelivered)
	}
	if n := parkedWorkers(); n == 0 {
		t.Fatal("no attempt worker is parked after the deliveries")
	}
	b.stop(t, 10*time.Second)
	waitFor(t, "the parked workers to exit after Close", func() bool { return parkedWorkers() == 0 })
}

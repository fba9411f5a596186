package bench

import (
	"testing"
	"time"
)

// TestSinkForeign checks that a sink counts deliveries to endpoints before
// its first as foreign, not as received.
func TestSinkForeign(t *testing.T) {
	t.Parallel()
	s := newSink(20)
	s.first = 10
	now := time.Now()
	if s.record(1, 3, now.UnixNano(), now) {
		t.Error("delivery to endpoint 3 recorded; want it foreign")
	}
	if !s.record(1, 12, now.UnixNano(), now) || s.record(1, 12, now.UnixNano(), now) {
		t.Error("delivery to endpoint 12: want recorded once, then a duplicate")
	}
	if s.foreign.Load() != 1 || s.received.Load() != 1 || s.duplicates.Load() != 1 {
		t.Errorf("foreign %d, received %d, duplicates %d; want 1, 1, 1", s.foreign.Load(), s.received.Load(), s.duplicates.Load())
	}
}

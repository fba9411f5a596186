package poll

import (
	"sync/atomic"
	"testing"
)

// TestUntil checks that Until returns once the condition holds, having
// asked it until then.
func TestUntil(t *testing.T) {
	var calls atomic.Int32
	Until(t, "the third call", func() bool { return calls.Add(1) == 3 })
	if n := calls.Load(); n != 3 {
		t.Errorf("cond called %d times, want 3", n)
	}
}

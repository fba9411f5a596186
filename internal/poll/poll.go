// Package poll waits in tests for a condition that another goroutine or
// process makes true, polling it with a deadline instead of sleeping a
// fixed time.
package poll

import (
	"testing"
	"time"
)

// Deadline is how long Until waits before it fails the test.
const Deadline = 15 * time.Second

// Until calls cond every 5 ms until it returns true, and fails
// t, naming what it waited for, if that takes longer than Deadline.
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Deadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

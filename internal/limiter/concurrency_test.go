package limiter

import "testing"

func TestConcurrencyShrinksAndGrowsBack(t *testing.T) {
	c := NewConcurrency(16)
	if c.Limit() != 16 {
		t.Fatalf("initial limit %d, want the max", c.Limit())
	}
	// Failures halve the limit once per window: the requests in flight
	// when it was cut (the old limit) fail together, and count once.
	// 16 failures → 8; 8 more (sent under 8) → 4; then → 2 → 1.
	want := map[int]int{1: 8, 16: 8, 17: 4, 24: 4, 25: 2, 28: 2, 29: 1, 40: 1}
	for i := 1; i <= 40; i++ {
		c.Congested()
		if w, ok := want[i]; ok && c.Limit() != w {
			t.Fatalf("after %d congestion signals: %d, want %d", i, c.Limit(), w)
		}
	}
	// From 1, additive: one more per limit's worth of successes.
	successes := 0
	for c.Limit() < 16 {
		c.Success()
		successes++
		if successes > 1000 {
			t.Fatal("never grew back")
		}
	}
	if successes < 100 {
		t.Fatalf("grew back from 1 to 16 in %d successes: recovery should be slow", successes)
	}
	for range 100 {
		c.Success()
	}
	if c.Limit() != 16 {
		t.Fatalf("limit %d over the max", c.Limit())
	}
}

func TestConcurrencySlowStartAndMax(t *testing.T) {
	c := NewConcurrency(16)
	c.Congested() // 8, threshold 8
	// Successes do not bring back a cut within the window.
	c.SetMax(4)
	if c.Limit() != 4 {
		t.Fatalf("limit %d after lowering the max to 4", c.Limit())
	}
	c.SetMax(32)
	if c.Limit() != 4 {
		t.Fatalf("raising the max moved the limit to %d", c.Limit())
	}
	c.Restart()
	if c.Limit() != 1 {
		t.Fatalf("limit after restart %d", c.Limit())
	}
	c = NewConcurrency(0)
	if c.Limit() != 1 || c.Max() != 1 {
		t.Fatalf("a max of 0 gives %d/%d, want 1", c.Limit(), c.Max())
	}
}

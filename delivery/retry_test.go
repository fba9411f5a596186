package delivery

import (
	"strings"
	"testing"
	"time"
)

func TestRetryPolicyNext(t *testing.T) {
	p := &RetryPolicy{Schedule: DefaultSchedule, Jitter: 0.2}
	tests := []struct {
		name       string
		made       int
		rand       float64
		retryAfter time.Duration
		want       time.Duration
		ok         bool
	}{
		{"after first attempt, no jitter", 1, 0.5, 0, 5 * time.Second, true},
		{"jitter low end", 1, 0, 0, 4 * time.Second, true},
		{"jitter high end", 1, 1, 0, 6 * time.Second, true},
		{"third delay", 2, 0.5, 0, 5 * time.Minute, true},
		{"last delay", 7, 0.5, 0, 10 * time.Hour, true},
		{"schedule exhausted", 8, 0.5, 0, 0, false},
		{"negative counts as none", -1, 0.5, 0, 0, true},
		{"retry-after within range", 2, 0.5, 7 * time.Minute, 7 * time.Minute, true},
		{"retry-after below the schedule is raised", 2, 0.5, time.Second, 5 * time.Minute, true},
		{"retry-after above twice is clamped", 2, 0.5, time.Hour, 10 * time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.Rand = func() float64 { return tt.rand }
			got, ok := p.Next(tt.made, tt.retryAfter)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Next(%d, %v) = %v, %v; want %v, %v", tt.made, tt.retryAfter, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRetryPolicyJitterSpread(t *testing.T) {
	// A deterministic sequence covering [0,1) must stay within ±20%.
	i := 0
	p := &RetryPolicy{Schedule: []time.Duration{0, 100 * time.Second}, Jitter: 0.2, Rand: func() float64 {
		i++
		return float64(i%1000) / 1000
	}}
	lo, hi := time.Hour, time.Duration(0)
	for range 1000 {
		d, _ := p.Next(1, 0)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 80*time.Second || hi > 120*time.Second || hi-lo < 39*time.Second {
		t.Fatalf("jitter spread [%v, %v], want within and across [80s, 120s]", lo, hi)
	}
}

func TestParseSchedule(t *testing.T) {
	got, err := ParseSchedule("0s,5s,5m,30m,2h,5h,10h,10h")
	if err != nil || len(got) != 8 || got[2] != 5*time.Minute || got[7] != 10*time.Hour {
		t.Fatalf("ParseSchedule = %v, %v", got, err)
	}
	for _, bad := range []string{"", "5", "5s,,1m", "-1s", "soon"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", bad)
		}
	}
	// The first attempt is made at once: a first delay would be ignored,
	// so it is refused, saying why and what to write instead.
	_, err = ParseSchedule("5s,1m,10m")
	if err == nil || !strings.Contains(err.Error(), "first") || !strings.Contains(err.Error(), "0s,5s,1m,10m") {
		t.Fatalf("ParseSchedule(\"5s,1m,10m\") = %v; want an error about the first entry", err)
	}
	if got, err := ParseSchedule(" 0 , 1m"); err != nil || len(got) != 2 {
		t.Fatalf("ParseSchedule(\" 0 , 1m\") = %v, %v", got, err)
	}
}

package hookline_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// idTime decodes the millisecond timestamp in the first 10 characters of an
// ID's 26, independently of the encoder.
func idTime(tb testing.TB, body string) int64 {
	tb.Helper()
	var ms int64
	for i := range 10 {
		v := strings.IndexByte(crockford, body[i])
		if v < 0 {
			tb.Fatalf("character %q is not Crockford base32", body[i])
		}
		ms = ms<<5 | int64(v)
	}
	return ms // 50 bits: 2 leading zero bits, then the 48-bit timestamp
}

func TestNewID(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 6, 1, 12, 0, 0, 123456789, time.UTC)
	for _, prefix := range []string{hookline.EndpointPrefix, hookline.EventPrefix, hookline.DeliveryPrefix, ""} {
		t.Run("Prefix"+prefix, func(t *testing.T) {
			t.Parallel()
			id := hookline.NewID(prefix, now)
			body, ok := strings.CutPrefix(id, prefix)
			if !ok {
				t.Fatalf("NewID(%q) = %q, without its prefix", prefix, id)
			}
			if len(body) != 26 {
				t.Fatalf("NewID(%q) = %q, want 26 characters after the prefix", prefix, id)
			}
			for _, c := range body {
				if !strings.ContainsRune(crockford, c) {
					t.Fatalf("NewID(%q) = %q: %q is not Crockford base32", prefix, id, c)
				}
			}
			if body[0] > '7' {
				t.Errorf("NewID(%q) = %q: the first character holds 3 bits, want 0-7", prefix, id)
			}
			if got := idTime(t, body); got != now.UnixMilli() {
				t.Errorf("NewID(%q) = %q encodes millisecond %d, want %d", prefix, id, got, now.UnixMilli())
			}
		})
	}
}

func TestNewIDSortsByTime(t *testing.T) {
	t.Parallel()
	base := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	times := []time.Time{
		time.UnixMilli(0),
		time.UnixMilli(1),
		time.UnixMilli(2),
		time.UnixMilli(1 << 31),
		time.UnixMilli(1 << 32),
		base,
		base.Add(time.Millisecond),
		base.Add(2 * time.Millisecond),
		base.Add(time.Second),
		base.Add(24 * time.Hour),
		base.AddDate(100, 0, 0),
		time.UnixMilli(1<<48 - 1), // the last millisecond 48 bits hold, in 10889
	}
	const perTime = 200
	var prevMax string
	for i, ts := range times {
		var lo, hi string
		for range perTime {
			id := hookline.NewID(hookline.EventPrefix, ts)
			if lo == "" || id < lo {
				lo = id
			}
			if id > hi {
				hi = id
			}
		}
		if i > 0 && lo <= prevMax {
			t.Errorf("an ID made at %v (%s) sorts before one made at %v (%s)", ts, lo, times[i-1], prevMax)
		}
		prevMax = hi
	}
}

func TestNewIDSubMillisecond(t *testing.T) {
	t.Parallel()
	base := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	a := hookline.NewID("", base)
	b := hookline.NewID("", base.Add(999*time.Microsecond))
	if a[:10] != b[:10] {
		t.Errorf("IDs in the same millisecond have different time parts: %s, %s", a, b)
	}
}

func TestNewIDUnique(t *testing.T) {
	t.Parallel()
	const n = 100_000
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC) // all in one millisecond
	seen := make(map[string]struct{}, n)
	for range n {
		id := hookline.NewID(hookline.DeliveryPrefix, now)
		if _, dup := seen[id]; dup {
			t.Fatalf("NewID repeated %s", id)
		}
		seen[id] = struct{}{}
	}
}

func TestPartitionOf(t *testing.T) {
	t.Parallel()

	t.Run("Pinned", func(t *testing.T) {
		t.Parallel()
		// Partitions are persisted with deliveries and shared between nodes:
		// the hash (FNV-1a, 32 bits, mod 128) must never change.
		for id, want := range map[string]int{
			"":                              69,
			"a":                             44,
			"ep_":                           61,
			"ep_01HZXW3N1Q8R5T6V7W8X9Y0Z1A": 13,
			"ep_00000000000000000000000000": 37,
		} {
			if got := hookline.PartitionOf(id); got != want {
				t.Errorf("PartitionOf(%q) = %d, want %d", id, got, want)
			}
		}
	})

	t.Run("RangeStableAndSpread", func(t *testing.T) {
		t.Parallel()
		const n = 128_000
		counts := make([]int, hookline.Partitions)
		now := time.Now()
		for range n {
			id := hookline.NewID(hookline.EndpointPrefix, now)
			p := hookline.PartitionOf(id)
			if p < 0 || p >= hookline.Partitions {
				t.Fatalf("PartitionOf(%q) = %d, out of [0, %d)", id, p, hookline.Partitions)
			}
			if again := hookline.PartitionOf(id); again != p {
				t.Fatalf("PartitionOf(%q) = %d, then %d", id, p, again)
			}
			ep := hookline.Endpoint{ID: id}
			if got := ep.Partition(); got != p {
				t.Fatalf("Endpoint.Partition() = %d, PartitionOf = %d", got, p)
			}
			counts[p]++
		}
		mean := n / hookline.Partitions
		for p, c := range counts {
			if c < mean*3/4 || c > mean*5/4 {
				t.Errorf("partition %d holds %d of %d endpoints; want about %d", p, c, n, mean)
			}
		}
	})
}

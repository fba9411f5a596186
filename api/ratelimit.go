package api

import (
	"crypto/sha256"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimitedKeys bounds the API keys the rate limiter remembers at once.
const maxLimitedKeys = 10_000

// keyLimiter limits the requests of each API key to a rate, with a burst of
// one second's worth. Keys are known by the SHA-256 of the key presented,
// so that the limiter holds no key and any number of keys (one per tenant)
// fits. It remembers at most maxLimitedKeys keys: past that, keys idle long
// enough to have a full bucket again are forgotten first (forgetting them
// changes nothing), then the least recently used.
type keyLimiter struct {
	limit rate.Limit
	burst int
	full  time.Duration // how long an idle bucket takes to fill

	mu   sync.Mutex
	keys map[[sha256.Size]byte]*keyBucket
	max  int
}

type keyBucket struct {
	lim  *rate.Limiter
	last time.Time
}

// newKeyLimiter returns a limiter of perSecond requests per key, or nil
// when perSecond is not positive.
func newKeyLimiter(perSecond float64) *keyLimiter {
	if perSecond <= 0 || math.IsNaN(perSecond) || math.IsInf(perSecond, 0) {
		return nil
	}
	burst := max(1, int(math.Ceil(perSecond)))
	return &keyLimiter{
		limit: rate.Limit(perSecond),
		burst: burst,
		full:  time.Duration(float64(burst) / perSecond * float64(time.Second)),
		keys:  make(map[[sha256.Size]byte]*keyBucket),
		max:   maxLimitedKeys,
	}
}

// allow takes one request of key at now. When the key is over its rate it
// returns false and how long until a request would be allowed.
func (l *keyLimiter) allow(key [sha256.Size]byte, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.keys[key]
	if b == nil {
		if len(l.keys) >= l.max {
			l.evict(now)
		}
		b = &keyBucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.keys[key] = b
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// evict makes room for one key: it forgets every key whose bucket is full
// again, or else the least recently used one.
func (l *keyLimiter) evict(now time.Time) {
	var oldest [sha256.Size]byte
	var oldestAt time.Time
	for k, b := range l.keys {
		if now.Sub(b.last) >= l.full {
			delete(l.keys, k)
		} else if oldestAt.IsZero() || b.last.Before(oldestAt) {
			oldest, oldestAt = k, b.last
		}
	}
	if len(l.keys) >= l.max {
		delete(l.keys, oldest)
	}
}

// retryAfter is the Retry-After value for a wait of d: whole seconds,
// rounded up, at least 1.
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

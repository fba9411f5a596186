package hookline

import (
	"crypto/rand"
	"encoding/binary"
	"hash/fnv"
	"time"
)

// ID prefixes name what an ID identifies.
const (
	EndpointPrefix = "ep_"
	EventPrefix    = "evt_"
	DeliveryPrefix = "dlv_"
	BatchPrefix    = "bat_" // the webhook-id of a batched request
)

// crockford is Crockford's base32 alphabet, which sorts in byte order.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns prefix followed by 26 characters: a 48-bit millisecond
// timestamp and 80 random bits in Crockford base32 (a ULID). IDs made later
// sort after IDs made earlier, so lists page by ID, newest first.
func NewID(prefix string, t time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	return encodeID(prefix, b)
}

func encodeID(prefix string, b [16]byte) string {
	out := make([]byte, len(prefix)+26)
	copy(out, prefix)
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	// 128 bits in 26 characters of 5 bits: the first character holds 3 bits.
	for i := len(out) - 1; i >= len(prefix); i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out)
}

// PartitionOf returns the partition, in [0, Partitions), that an endpoint
// hashes into.
func PartitionOf(endpointID string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(endpointID))
	return int(h.Sum32() % Partitions)
}

// MinID returns the lowest ID of prefix that NewID can make at t: t's
// millisecond with no random bits (a time before 1970 is 1970's). Every ID made at t or later sorts at or
// after it, and every ID made before t's millisecond sorts before it, so a
// time range of IDs made by NewID is a range of IDs.
func MinID(prefix string, t time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(max(t.UnixMilli(), 0))<<16) // no ID is older than 1970
	return encodeID(prefix, b)
}

// IDRange returns the IDs of prefix made by NewID in [since, until) as the
// range [lo, hi) of IDs (hi "" when until is zero, lo "" when since is):
// the IDs of since's and until's milliseconds included, so that a caller
// still checks the exact times of the rows at both ends.
func IDRange(prefix string, since, until time.Time) (lo, hi string) {
	if !since.IsZero() {
		lo = MinID(prefix, since)
	}
	if !until.IsZero() {
		hi = MinID(prefix, until.Truncate(time.Millisecond).Add(time.Millisecond))
	}
	return lo, hi
}

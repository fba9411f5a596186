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

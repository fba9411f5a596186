package postgres_test

import (
	"testing"

	"github.com/hookline/hookline/storetest"
)

// BenchmarkDeleteEndpoint measures ingest while an endpoint with 200,000
// delivered deliveries is deleted (see storetest.DeleteUnderIngest):
//
//	go test -run '^$' -bench DeleteEndpoint -benchtime 1x -count 5 ./postgres/
func BenchmarkDeleteEndpoint(b *testing.B) {
	s := newStore(b)
	storetest.DeleteUnderIngest(b, s, 200_000, 4, storetest.DeleteAndPurge(b, s))
}

package sqlite

import (
	"context"
	"testing"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/storetest"
)

// BenchmarkDeleteEndpoint measures ingest while an endpoint with 200,000
// delivered deliveries is deleted (see storetest.DeleteUnderIngest):
//
//	go test -run '^$' -bench DeleteEndpoint -benchtime 1x -count 5 ./sqlite/
func BenchmarkDeleteEndpoint(b *testing.B) {
	s := open(b)
	storetest.DeleteUnderIngest(b, s, 200_000, 4, func(ctx context.Context, id string) error {
		if _, err := s.DeleteEndpoint(ctx, id, hookline.Now()); err != nil {
			return err
		}
		return storetest.Purge(ctx, s)
	})
}

package delivery_test

import (
	"context"
	"testing"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/delivery"
	"github.com/hookline/hookline/internal/faultstore"
)

// allPartitions returns every partition.
func allPartitions() []int {
	parts := make([]int, hookline.Partitions)
	for i := range parts {
		parts[i] = i
	}
	return parts
}

// TestTakeoverRetried is finding 2 of issue 14: a node gains partitions
// while the store fails the takeover (resetting the claims a dead node left,
// loading the endpoints' health). The engine retries the takeover until it
// succeeds, and dispatches nothing of the partitions before: neither what
// the dead node left claimed nor what is ingested meanwhile.
func TestTakeoverRetried(t *testing.T) {
	for _, op := range []faultstore.Op{faultstore.ResetClaims, faultstore.LoadHealth} {
		t.Run(string(op), func(t *testing.T) {
			t.Parallel()
			faulty(t, delivery.Config{Partitioned: true}, func(t *testing.T, b *bundle, fs *faultstore.Store) {
				ctx := context.Background()
				rc := newReceiver(t, nil)
				b.endpoint(t, rc.URL)
				// A node that died left a delivery claimed.
				now := hookline.Now()
				left := &hookline.Event{ID: hookline.NewID(hookline.EventPrefix, now), Type: "a", CreatedAt: now}
				if err := b.store.Ingest(ctx, []*hookline.IngestRequest{{Events: []*hookline.Event{left}, Claim: true}}, now); err != nil {
					t.Fatal(err)
				}
				fs.Fail(op, -1)
				if err := b.engine.SetOwned(ctx, allPartitions()); err == nil {
					t.Fatal("SetOwned succeeded while the store failed")
				}
				waitFor(t, "the takeover to be tried again", func() bool { return fs.Calls(op) >= 3 })
				fresh := b.send(t, "a", `{}`)
				st, err := b.engine.Stats(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if st.Node.Partitions != 0 || st.Node.InMemory != 0 || rc.count() != 0 {
					t.Fatalf("before the takeover succeeded: %d partitions owned, %d deliveries in memory, %d sent",
						st.Node.Partitions, st.Node.InMemory, rc.count())
				}
				fs.Heal(op)
				b.waitStatus(t, left.ID, hookline.StatusDelivered)
				b.waitStatus(t, fresh.ID, hookline.StatusDelivered)
				waitFor(t, "every partition owned", func() bool {
					st, err := b.engine.Stats(ctx)
					return err == nil && st.Node.Partitions == hookline.Partitions
				})
			})
		})
	}
}

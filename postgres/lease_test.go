package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/postgres"
)

// node runs a Leaser and reports the partitions it owns.
type node struct {
	mu     sync.Mutex
	owned  []int
	change chan struct{} // receives after each change of owned
	cancel context.CancelFunc
	done   chan error
}

func startNode(t *testing.T, s *postgres.Store, id string) *node {
	t.Helper()
	l := s.NewLeaser(id, time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{change: make(chan struct{}, 1), cancel: cancel, done: make(chan error, 1)}
	go func() {
		n.done <- l.Run(ctx, func(_ context.Context, parts []int) error {
			n.mu.Lock()
			n.owned = parts
			n.mu.Unlock()
			select {
			case n.change <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	t.Cleanup(func() { n.stop(t) })
	return n
}

func (n *node) stop(t *testing.T) {
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	if err := <-n.done; err != nil {
		t.Errorf("Leaser.Run: %v", err)
	}
}

func (n *node) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.owned)
}

// waitFor waits until cond holds after a change of ownership of any node.
func waitFor(t *testing.T, what string, cond func() bool, nodes ...*node) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for !cond() {
		select {
		case <-nodes[0].change:
		case <-nodes[len(nodes)-1].change:
		case <-deadline:
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// TestLeaser checks that nodes share the partitions: one node takes them
// all, a second one that joins gets half, and when it stops, the first takes
// them back.
func TestLeaser(t *testing.T) {
	t.Parallel()
	schema := testSchema(t)
	a := startNode(t, openStore(t, schema), "node-a")
	waitFor(t, "node a owns every partition", func() bool { return a.count() == hookline.Partitions }, a)

	b := startNode(t, openStore(t, schema), "node-b")
	half := hookline.Partitions / 2
	waitFor(t, "the nodes own half each", func() bool { return a.count() == half && b.count() == half }, a, b)
	a.mu.Lock()
	b.mu.Lock()
	seen := make(map[int]bool)
	for _, p := range append(append([]int{}, a.owned...), b.owned...) {
		if seen[p] {
			t.Errorf("partition %d is owned twice", p)
		}
		seen[p] = true
	}
	a.mu.Unlock()
	b.mu.Unlock()

	b.stop(t)
	waitFor(t, "node a owns every partition again", func() bool { return a.count() == hookline.Partitions }, a)
}

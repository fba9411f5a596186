package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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

// TestLeaserStopsBeforeExpiry is finding 4 of issue 14: however long the
// database blocks a lease round, the leaser stops the node's dispatch before
// its leases can expire (and another node take them), with a margin.
func TestLeaserStopsBeforeExpiry(t *testing.T) {
	t.Parallel()
	const timeout, tick = 10 * time.Second, time.Second // tick: min(1s, timeout/5)
	schema := testSchema(t)
	s := openStore(t, schema)
	l := s.NewLeaser("node-a", timeout, slog.New(slog.NewTextHandler(io.Discard, nil)))
	stopped := make(chan time.Time, 1)
	stop := func() {
		select {
		case stopped <- time.Now():
		default:
		}
	}
	l.Lost = func(parts []int) {
		if len(parts) == hookline.Partitions {
			stop()
		}
	}
	var mu sync.Mutex
	owned := 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- l.Run(ctx, func(_ context.Context, parts []int) error {
			mu.Lock()
			defer mu.Unlock()
			if owned > 0 && len(parts) == 0 {
				stop()
			}
			owned = len(parts)
			return nil
		})
	}()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := owned
		mu.Unlock()
		if n == hookline.Partitions {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leaser owns %d partitions", n)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Every lease round begins with the heartbeat: locking the nodes table
	// blocks the rounds, as a database that hangs would. Once the lock is
	// ours, no round is past its heartbeat, so the leases expire at the time
	// the last round set.
	conn, err := pgx.Connect(context.Background(), databaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	lock, err := conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(context.Background())
	if _, err := lock.Exec(context.Background(), "LOCK TABLE "+pgx.Identifier{schema, "nodes"}.Sanitize()+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var expiry time.Time
	if err := lock.QueryRow(context.Background(), "SELECT max(expires_at) FROM "+
		pgx.Identifier{schema, "partition_leases"}.Sanitize()+" WHERE node_id = 'node-a'").Scan(&expiry); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-stopped:
		if margin := expiry.Sub(at); margin < tick {
			t.Errorf("the leaser stopped dispatch %s before its leases expire, want at least %s", margin, tick)
		}
	case <-time.After(2 * timeout):
		t.Fatal("the leaser never stopped dispatch")
	}
}

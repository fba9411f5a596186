package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookline/hookline"
)

// The cluster tests run several `hookline serve` processes against one
// PostgreSQL database (ARCHITECTURE.md promise 7) and check what issue 4
// promises: a node killed with SIGKILL loses nothing that was accepted and
// its partitions move within the lease timeout; a node that joins takes its
// share; a node stopped with SIGTERM hands its partitions back at once; and
// `hookline migrate` is safe beside starting nodes. Each test has a database
// of its own, made from HOOKLINE_TEST_DATABASE_URL.

// clusterDatabase creates an empty database for the test on the server of
// HOOKLINE_TEST_DATABASE_URL and returns its URL; the database is dropped
// when the test ends, after the processes it started are gone. Without that
// variable the test is skipped, or fails when HOOKLINE_REQUIRE_POSTGRES=1.
func clusterDatabase(t *testing.T) string {
	t.Helper()
	base := os.Getenv("HOOKLINE_TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("HOOKLINE_REQUIRE_POSTGRES") == "1" {
			t.Fatal("the cluster tests need PostgreSQL: HOOKLINE_TEST_DATABASE_URL is not set " +
				"(run: eval \"$(scripts/pgtest.sh start)\", or make test)")
		}
		t.Skip("HOOKLINE_TEST_DATABASE_URL is not set; run: eval \"$(scripts/pgtest.sh start)\"")
	}
	if testing.Short() {
		t.Skip("cluster test in -short mode")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "hl_" + hex.EncodeToString(b[:])
	admin := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := admin("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	// Registered first, so it runs last: after every process is killed.
	t.Cleanup(func() {
		if err := admin("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("HOOKLINE_TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// query runs one query on the test's database and scans its single row.
func query(t *testing.T, dbURL, sql string, dest ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// leaseOwners returns the node holding each partition's unexpired lease, by
// partition ("" when free).
func leaseOwners(t *testing.T, dbURL string) []string {
	t.Helper()
	owners := make([]string, hookline.Partitions)
	var parts []int32
	var nodes []string
	query(t, dbURL, `SELECT coalesce(array_agg(partition), '{}'), coalesce(array_agg(node_id), '{}')
		FROM partition_leases WHERE node_id IS NOT NULL AND expires_at > now()`, &parts, &nodes)
	for i, p := range parts {
		owners[p] = nodes[i]
	}
	return owners
}

// clusterNode starts a node on the database with the flags the cluster tests
// share, and extra flags.
func clusterNode(t *testing.T, dbURL, id string, extra ...string) *proc {
	t.Helper()
	args := []string{"--database-url", dbURL, "--node-id", id, "--data-dir", t.TempDir(),
		"--allow-private-networks", "--retry-schedule", "0s,50ms,100ms,200ms,500ms,1s,1s,1s,1s,1s"}
	return serve(t, nil, append(args, extra...)...)
}

// partitions returns the partitions a node reports on /readyz, or -1 when it
// does not answer.
func (p *proc) partitions() int {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(p.url + "/readyz")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var r struct {
		Detail struct {
			Node struct {
				Partitions int `json:"partitions"`
			} `json:"node"`
		} `json:"detail"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return -1
	}
	return r.Detail.Node.Partitions
}

// owned returns what each node reports on /readyz.
func owned(nodes []*proc) []int {
	out := make([]int, len(nodes))
	for i, p := range nodes {
		out[i] = p.partitions()
	}
	return out
}

// settled reports whether the nodes own every partition between them, each
// a share as even as 128 allows.
func settled(counts []int) bool {
	sum, share := 0, (hookline.Partitions+len(counts)-1)/len(counts)
	for _, c := range counts {
		if c < hookline.Partitions/len(counts) || c > share {
			return false
		}
		sum += c
	}
	return sum == hookline.Partitions
}

// eventually polls cond every 20 ms until it holds, and fails the test
// with cond's last word when d passes. It returns the time it took.
func eventually(t *testing.T, d time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, state := cond()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("timed out after %s waiting for %s: %s", d, what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// receipt names one delivery as a receiver sees it: the event's webhook-id
// and the endpoint's path.
type receipt struct{ id, path string }

// recorder is a receiver that answers 200 and keeps the arrival times of
// every delivery, by webhook-id and path (each endpoint has its own path),
// so that a delivery sent twice shows. A request whose body was cut short
// (its sender was killed while writing it) is not a delivery, as a receiver
// could not verify its signature; it is only counted.
type recorder struct {
	*httptest.Server
	mu    sync.Mutex
	got   map[receipt][]time.Time
	n     atomic.Int64
	cut   atomic.Int64  // requests whose body was cut short
	delay time.Duration // how long each answer takes
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{got: map[receipt][]time.Time{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			r.cut.Add(1)
			return
		}
		time.Sleep(r.delay)
		k := receipt{req.Header.Get("webhook-id"), req.URL.Path}
		now := time.Now()
		r.mu.Lock()
		r.got[k] = append(r.got[k], now)
		r.mu.Unlock()
		r.n.Add(1)
	}))
	t.Cleanup(r.Close)
	return r
}

// missing counts the deliveries of the accepted events not received yet.
func (r *recorder) missing(accepted []accepted, paths []string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, a := range accepted {
		for _, p := range paths {
			if len(r.got[receipt{a.id, p}]) == 0 {
				n++
			}
		}
	}
	return n
}

// duplicates returns every delivery received more than once, with its
// arrival times.
func (r *recorder) duplicates() map[receipt][]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[receipt][]time.Time{}
	for k, ts := range r.got {
		if len(ts) > 1 {
			out[k] = slices.Clone(ts)
		}
	}
	return out
}

// since counts the deliveries received at or after t.
func (r *recorder) since(t time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ts := range r.got {
		for _, at := range ts {
			if !at.Before(t) {
				n++
			}
		}
	}
	return n
}

// createEndpoints registers n endpoints, all subscribed to every event type,
// each on its own path of the recorder, and returns the paths and IDs.
func createEndpoints(t *testing.T, p *proc, r *recorder, n int) (paths, ids []string) {
	t.Helper()
	for i := range n {
		path := fmt.Sprintf("/ep/%d", i)
		var ep endpointJSON
		if code := p.do(t, "POST", "/v1/endpoints", map[string]any{"url": r.URL + path}, &ep); code != 201 {
			t.Fatalf("create endpoint: %d", code)
		}
		paths, ids = append(paths, path), append(ids, ep.ID)
	}
	return paths, ids
}

// accepted is an event a node answered 202.
type accepted struct {
	id   string
	node int
}

// load posts events from several clients, round-robin over the nodes not
// marked down, at about rate events per second in all, until stop. A node is
// marked down before it is killed or stopped; what it answers meanwhile is
// kept if it was a 202 and otherwise ignored. Any other answer than 202 from
// a node never marked down is an error.
type load struct {
	t         *testing.T
	nodes     []*proc
	down      []atomic.Bool
	endpoints int

	mu       sync.Mutex
	accepted []accepted
	failures []string

	stop chan struct{}
	wg   sync.WaitGroup
}

func startLoad(t *testing.T, nodes []*proc, endpoints, clients int, rate float64) *load {
	l := &load{t: t, nodes: nodes, down: make([]atomic.Bool, len(nodes)), endpoints: endpoints, stop: make(chan struct{})}
	interval := time.Duration(float64(time.Second) * float64(clients) / rate)
	client := &http.Client{Timeout: 10 * time.Second}
	for c := range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for i := c; ; i++ {
				select {
				case <-l.stop:
					return
				case <-tick.C:
				}
				n := i % len(l.nodes)
				if l.down[n].Load() {
					continue
				}
				l.post(client, n, c, i)
			}
		}()
	}
	t.Cleanup(l.halt)
	return l
}

func (l *load) post(client *http.Client, n, c, i int) {
	p := l.nodes[n]
	body, _ := json.Marshal(map[string]any{"type": "cluster.test", "data": map[string]int{"client": c, "i": i}})
	req, _ := http.NewRequest("POST", p.url+"/v1/events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+p.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		if !l.down[n].Load() {
			l.fail("node %d: %v", n, err)
		}
		return
	}
	defer resp.Body.Close()
	var res eventResult
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &res)
	switch {
	case resp.StatusCode == http.StatusAccepted && res.Deliveries == l.endpoints:
		l.mu.Lock()
		l.accepted = append(l.accepted, accepted{res.ID, n})
		l.mu.Unlock()
	case resp.StatusCode == http.StatusAccepted:
		l.fail("node %d accepted %s with %d deliveries, want %d", n, res.ID, res.Deliveries, l.endpoints)
	case !l.down[n].Load():
		l.fail("node %d: %d %s", n, resp.StatusCode, b)
	}
}

func (l *load) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < 10 {
		l.failures = append(l.failures, fmt.Sprintf(format, args...))
	}
}

// markDown stops sending to node n.
func (l *load) markDown(n int) { l.down[n].Store(true) }

// count returns how many events were accepted so far.
func (l *load) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.accepted)
}

func (l *load) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// finish stops the load, fails the test on unexpected answers, and returns
// the accepted events.
func (l *load) finish() []accepted {
	l.t.Helper()
	l.halt()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) > 0 {
		l.t.Fatalf("unexpected answers to the load:\n%s", strings.Join(l.failures, "\n"))
	}
	return slices.Clone(l.accepted)
}

// waitDelivered waits until every accepted event reached every endpoint and
// the cluster has nothing pending, so that no delivery can still come.
func waitDelivered(t *testing.T, r *recorder, p *proc, acc []accepted, paths []string, d time.Duration) time.Duration {
	t.Helper()
	return eventually(t, d, "every accepted event delivered to every endpoint", func() (bool, string) {
		if m := r.missing(acc, paths); m > 0 {
			return false, fmt.Sprintf("%d of %d deliveries missing", m, len(acc)*len(paths))
		}
		var st hookline.Stats
		if code := p.do(t, "GET", "/v1/stats", nil, &st); code != 200 || st.Pending != 0 {
			return false, fmt.Sprintf("stats: %d, %d pending", code, st.Pending)
		}
		return true, ""
	})
}

// TestClusterKillNode runs three nodes under load and kill -9s the one that
// owns the most endpoints. Every event accepted by any node, the dead one
// included, is delivered to every endpoint; a delivery is received twice
// only if its first receipt was within the at-least-once window of the kill
// (lease timeout + delivery timeout), and its second after the kill (sent by
// the dead node, which died before writing its outcome, then by the new
// owner); and the survivors own all 128 partitions within the lease timeout
// and a few lease ticks. The load runs for longer than the window on both
// sides of the kill, so that a duplicate outside it would show.
func TestClusterKillNode(t *testing.T) {
	const (
		leaseTimeout    = 3 * time.Second
		leaseTick       = leaseTimeout / 5 // postgres.Leaser: min(1s, timeout/5)
		deliveryTimeout = 2 * time.Second
		window          = leaseTimeout + deliveryTimeout
		endpoints       = 12
	)
	db := clusterDatabase(t)
	flags := []string{"--lease-timeout", leaseTimeout.String(), "--delivery-timeout", deliveryTimeout.String()}
	var nodes []*proc
	for i := range 3 {
		nodes = append(nodes, clusterNode(t, db, fmt.Sprintf("n%d", i), flags...))
	}
	// Load starts once the shares settled, so that no hand-over among live
	// nodes blurs what the kill does.
	took := eventually(t, 10*time.Second, "3 nodes sharing the partitions", func() (bool, string) {
		c := owned(nodes)
		return settled(c), fmt.Sprint(c)
	})
	t.Logf("3 nodes own %v %s after they started", owned(nodes), took.Round(time.Millisecond))

	r := newRecorder(t)
	paths, ids := createEndpoints(t, nodes[0], r, endpoints)
	// The victim is the node dispatching the most endpoints.
	leases := leaseOwners(t, db)
	per := map[string]int{}
	for _, id := range ids {
		per[leases[hookline.PartitionOf(id)]]++
	}
	victim := 0
	for i := range nodes {
		if per[fmt.Sprintf("n%d", i)] > per[fmt.Sprintf("n%d", victim)] {
			victim = i
		}
	}
	t.Logf("endpoints per node %v; n%d will be killed", per, victim)

	l := startLoad(t, nodes, endpoints, 8, 200)
	started := time.Now()
	eventually(t, 20*time.Second, "load under way for longer than the window", func() (bool, string) {
		n, d := l.count(), r.n.Load()
		return time.Since(started) > window+time.Second && n >= 500 && d >= int64(500*endpoints),
			fmt.Sprintf("%d accepted, %d delivered", n, d)
	})
	before := l.count()
	l.markDown(victim)
	killed := time.Now()
	nodes[victim].kill()

	var survivors []*proc
	for i, p := range nodes {
		if i != victim {
			survivors = append(survivors, p)
		}
	}
	moved := eventually(t, leaseTimeout+5*leaseTick, "the survivors to own every partition", func() (bool, string) {
		c := owned(survivors)
		return settled(c), fmt.Sprint(c)
	})
	t.Logf("the survivors own %v %s after the kill (lease timeout %s, tick %s)",
		owned(survivors), moved.Round(time.Millisecond), leaseTimeout, leaseTick)
	if limit := leaseTimeout + 3*leaseTick; moved > limit {
		t.Errorf("the partitions moved %s after the kill, want within %s", moved, limit)
	}
	eventually(t, 20*time.Second, "load on the survivors past the window", func() (bool, string) {
		n := l.count() - before
		return time.Since(killed) > window+time.Second && n >= 300, fmt.Sprint(n, " accepted since the kill")
	})
	acc := l.finish()
	byVictim := 0
	for _, a := range acc {
		if a.node == victim {
			byVictim++
		}
	}
	t.Logf("%d events accepted (%d before the kill, %d by the killed node), %d deliveries expected",
		len(acc), before, byVictim, len(acc)*endpoints)

	drained := waitDelivered(t, r, survivors[0], acc, paths, 30*time.Second)
	t.Logf("every delivery received %s after the load stopped", drained.Round(time.Millisecond))

	dups := r.duplicates()
	var first, second []time.Duration
	for k, ts := range dups {
		d0, d1 := ts[0].Sub(killed), ts[1].Sub(killed)
		first, second = append(first, d0), append(second, d1)
		if d0 < -window || d0 > window || d1 < 0 || len(ts) > 2 {
			t.Errorf("delivery %s %s received %d times, first %s and then %s from the kill (window ±%s)",
				k.id, k.path, len(ts), d0.Round(time.Millisecond), d1.Round(time.Millisecond), window)
		}
	}
	if len(dups) > 0 {
		t.Logf("%d of %d deliveries received twice: first receipts %s to %s from the kill, second %s to %s",
			len(dups), len(acc)*endpoints, slices.Min(first), slices.Max(first),
			slices.Min(second).Round(time.Millisecond), slices.Max(second).Round(time.Millisecond))
	} else {
		t.Logf("no delivery received twice")
	}
	t.Logf("%d requests cut short by the kill", r.cut.Load())
}

// TestClusterJoin starts one node under load, then a second: the second
// takes its share without a restart of the first, every accepted event is
// delivered, and nothing is sent twice (a hand-over among live nodes is
// graceful).
func TestClusterJoin(t *testing.T) {
	const (
		leaseTimeout    = 3 * time.Second
		leaseTick       = leaseTimeout / 5
		deliveryTimeout = 2 * time.Second
		endpoints       = 12
	)
	db := clusterDatabase(t)
	flags := []string{"--lease-timeout", leaseTimeout.String(), "--delivery-timeout", deliveryTimeout.String()}
	first := clusterNode(t, db, "n0", flags...)
	eventually(t, 10*time.Second, "the first node to own every partition", func() (bool, string) {
		n := first.partitions()
		return n == hookline.Partitions, fmt.Sprint(n)
	})
	r := newRecorder(t)
	paths, _ := createEndpoints(t, first, r, endpoints)

	// The load goes to the first node, and to the second once it is up.
	l := startLoad(t, []*proc{first}, endpoints, 8, 200)
	started := time.Now()
	eventually(t, 20*time.Second, "load under way", func() (bool, string) {
		return time.Since(started) > 2*time.Second && l.count() >= 300, fmt.Sprint(l.count(), " accepted")
	})
	joined := time.Now()
	second := clusterNode(t, db, "n1", flags...)
	l2 := startLoad(t, []*proc{second}, endpoints, 4, 100)
	nodes := []*proc{first, second}
	eventually(t, 15*time.Second, "the second node to take its share", func() (bool, string) {
		c := owned(nodes)
		return c[0] > 0 && c[1] > 0 && c[0]+c[1] == hookline.Partitions, fmt.Sprint(c)
	})
	took := time.Since(joined)
	// The first node releases the partitions it hands back once none of
	// their deliveries is claimed (its attempts there ended), or after the
	// delivery timeout + 1 s at most.
	t.Logf("the nodes own %v %s after the second started (delivery timeout %s, tick %s)",
		owned(nodes), took.Round(time.Millisecond), deliveryTimeout, leaseTick)
	if !settled(owned(nodes)) {
		t.Errorf("uneven shares: %v", owned(nodes))
	}
	after := l.count() + l2.count()
	eventually(t, 10*time.Second, "load on both nodes", func() (bool, string) {
		n := l.count() + l2.count()
		return n >= after+300, fmt.Sprint(n-after, " accepted")
	})
	acc := append(l.finish(), l2.finish()...)
	t.Logf("%d events accepted, %d deliveries expected", len(acc), len(acc)*endpoints)
	drained := waitDelivered(t, r, first, acc, paths, 30*time.Second)
	t.Logf("every delivery received %s after the load stopped", drained.Round(time.Millisecond))
	for k, ts := range r.duplicates() {
		t.Errorf("delivery %s %s received %d times, first %s from the join", k.id, k.path, len(ts), ts[0].Sub(joined).Round(time.Millisecond))
	}
}

// TestClusterHandoverInFlight checks the hand-over to a node that joins
// while the receivers are slow, so that attempts are in flight on the first
// node when it hands partitions back: the second node must not send them
// again while they are under way (two nodes dispatching one delivery at
// once, beyond the endpoint's in-flight limit).
func TestClusterHandoverInFlight(t *testing.T) {
	const (
		deliveryTimeout = 3 * time.Second
		endpoints       = 8
	)
	db := clusterDatabase(t)
	// Two requests in flight per endpoint for 32 deliveries a second that
	// take 1 s each: attempts in flight, and more queued, when the second
	// node joins.
	flags := []string{"--lease-timeout", "3s", "--delivery-timeout", deliveryTimeout.String(), "--max-in-flight-per-endpoint", "2"}
	first := clusterNode(t, db, "n0", flags...)
	eventually(t, 10*time.Second, "the first node to own every partition", func() (bool, string) {
		n := first.partitions()
		return n == hookline.Partitions, fmt.Sprint(n)
	})
	r := newRecorder(t)
	r.delay = time.Second
	paths, _ := createEndpoints(t, first, r, endpoints)
	l := startLoad(t, []*proc{first}, endpoints, 4, 4)
	eventually(t, 20*time.Second, "attempts in flight and queued", func() (bool, string) {
		var st hookline.Stats
		first.do(t, "GET", "/v1/stats", nil, &st)
		return st.Node.InFlight >= 12 && st.Node.InMemory >= st.Node.InFlight+16,
			fmt.Sprintf("%d in flight, %d in memory", st.Node.InFlight, st.Node.InMemory)
	})
	joined := time.Now()
	nodes := []*proc{first, clusterNode(t, db, "n1", flags...)}
	took := eventually(t, 15*time.Second, "an even share", func() (bool, string) {
		c := owned(nodes)
		return settled(c), fmt.Sprint(c)
	})
	t.Logf("the nodes own %v %s after the second started", owned(nodes), took.Round(time.Millisecond))
	after := l.count()
	eventually(t, 10*time.Second, "more load", func() (bool, string) {
		return l.count() >= after+4, fmt.Sprint(l.count()-after, " accepted")
	})
	acc := l.finish()
	drained := waitDelivered(t, r, first, acc, paths, 30*time.Second)
	t.Logf("%d events accepted; every delivery received %s after the load stopped", len(acc), drained.Round(time.Millisecond))
	for k, ts := range r.duplicates() {
		t.Errorf("delivery %s %s received %d times, at %s and %s from the join", k.id, k.path, len(ts),
			ts[0].Sub(joined).Round(time.Millisecond), ts[1].Sub(joined).Round(time.Millisecond))
	}
}

// TestClusterGracefulShutdown stops one of two nodes with SIGTERM under
// load: it exits 0, the other owns every partition within about two lease
// ticks (well before the lease timeout), nothing accepted is lost and
// nothing is sent twice.
func TestClusterGracefulShutdown(t *testing.T) {
	const (
		leaseTimeout = 10 * time.Second
		leaseTick    = time.Second // min(1s, timeout/5)
		endpoints    = 8
	)
	db := clusterDatabase(t)
	flags := []string{"--lease-timeout", leaseTimeout.String(), "--delivery-timeout", "2s"}
	nodes := []*proc{clusterNode(t, db, "n0", flags...), clusterNode(t, db, "n1", flags...)}
	eventually(t, 15*time.Second, "2 nodes sharing the partitions", func() (bool, string) {
		c := owned(nodes)
		return settled(c), fmt.Sprint(c)
	})
	r := newRecorder(t)
	paths, _ := createEndpoints(t, nodes[0], r, endpoints)
	l := startLoad(t, nodes, endpoints, 8, 200)
	eventually(t, 20*time.Second, "load under way", func() (bool, string) {
		return l.count() >= 400, fmt.Sprint(l.count(), " accepted")
	})

	l.markDown(1)
	stopped := time.Now()
	if err := nodes[1].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, leaseTimeout, "the remaining node to own every partition", func() (bool, string) {
		n := nodes[0].partitions()
		return n == hookline.Partitions, fmt.Sprint(n)
	})
	t.Logf("the remaining node owns 128 partitions %s after SIGTERM (lease timeout %s, tick %s)",
		took.Round(time.Millisecond), leaseTimeout, leaseTick)
	if took > 2*leaseTick+leaseTick/2 {
		t.Errorf("partitions handed over %s after SIGTERM, want within about 2 lease ticks (%s)", took, 2*leaseTick)
		defer func() { t.Logf("the stopped node's log:\n%s", nodes[1].stderr) }()
	}
	select {
	case <-nodes[1].done:
		err := nodes[1].waitErr
		if err != nil {
			t.Fatalf("hookline exited with %v after SIGTERM\n%s", err, nodes[1].stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("hookline did not exit after SIGTERM")
	}
	t.Logf("the stopped node exited 0 %s after SIGTERM", time.Since(stopped).Round(time.Millisecond))

	after := l.count()
	eventually(t, 10*time.Second, "load on the remaining node", func() (bool, string) {
		return l.count() >= after+200, fmt.Sprint(l.count()-after, " accepted")
	})
	acc := l.finish()
	drained := waitDelivered(t, r, nodes[0], acc, paths, 30*time.Second)
	t.Logf("%d events accepted; every delivery received %s after the load stopped", len(acc), drained.Round(time.Millisecond))
	dups := r.duplicates()
	for k, ts := range dups {
		t.Errorf("delivery %s %s received %d times, first %s from SIGTERM", k.id, k.path, len(ts), ts[0].Sub(stopped).Round(time.Millisecond))
	}
}

// TestClusterMigrate runs `hookline migrate` on an empty database four
// times at once while two nodes start on it: every run succeeds, each
// migration is applied once, a later run has nothing to do, the nodes work,
// and a run without a database URL fails with a clear message.
func TestClusterMigrate(t *testing.T) {
	db := clusterDatabase(t)
	type run struct {
		cmd *exec.Cmd
		out bytes.Buffer
	}
	migrate := func() *run {
		r := &run{cmd: exec.Command(binary, "migrate", "--database-url", db)}
		r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return r
	}
	var runs []*run
	for range 4 {
		runs = append(runs, migrate())
	}
	nodes := []*proc{clusterNode(t, db, "n0"), clusterNode(t, db, "n1")}
	for i, r := range runs {
		if err := r.cmd.Wait(); err != nil || !strings.Contains(r.out.String(), "migrations applied") {
			t.Fatalf("migrate %d: %v\n%s", i, err, r.out.String())
		}
	}
	var applied, distinct, latest int
	query(t, db, "SELECT count(*), count(DISTINCT version), coalesce(max(version), 0) FROM schema_migrations",
		&applied, &distinct, &latest)
	if applied == 0 || applied != distinct || applied != latest {
		t.Fatalf("schema_migrations: %d rows, %d versions, latest %d; want each version once", applied, distinct, latest)
	}
	again := migrate()
	if err := again.cmd.Wait(); err != nil {
		t.Fatalf("migrate on a migrated database: %v\n%s", err, again.out.String())
	}
	var rows int
	query(t, db, "SELECT count(*) FROM schema_migrations", &rows)
	if rows != applied {
		t.Fatalf("a second migrate changed schema_migrations: %d rows, was %d", rows, applied)
	}

	eventually(t, 15*time.Second, "2 nodes sharing the partitions", func() (bool, string) {
		c := owned(nodes)
		return settled(c), fmt.Sprint(c)
	})
	r := newRecorder(t)
	paths, _ := createEndpoints(t, nodes[0], r, 2)
	var acc []accepted
	for i, p := range nodes {
		var ev eventResult
		if code := p.do(t, "POST", "/v1/events", map[string]any{"type": "migrate.test", "data": i}, &ev); code != 202 || ev.Deliveries != 2 {
			t.Fatalf("node %d: send event: %d %+v", i, code, ev)
		}
		acc = append(acc, accepted{id: ev.ID, node: i})
	}
	waitDelivered(t, r, nodes[1], acc, paths, 15*time.Second)

	cmd := exec.Command(binary, "migrate")
	cmd.Env = append(os.Environ(), "HOOKLINE_DATABASE_URL=")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--database-url or HOOKLINE_DATABASE_URL is required") {
		t.Fatalf("migrate without a database URL: %v\n%s", err, out)
	}
}

// TestClusterCircuitSurvivesMove opens an endpoint's circuit on the node that
// owns it, stops that node gracefully, and checks that the node that takes
// the partition over keeps the circuit open: it sends the endpoint nothing
// while a healthy endpoint gets every new event.
func TestClusterCircuitSurvivesMove(t *testing.T) {
	db := clusterDatabase(t)
	flags := []string{"--lease-timeout", "5s", "--breaker-failures", "3", "--breaker-cooldown", "1h"}
	nodes := []*proc{clusterNode(t, db, "n0", flags...), clusterNode(t, db, "n1", flags...)}
	eventually(t, 15*time.Second, "2 nodes sharing the partitions", func() (bool, string) {
		c := owned(nodes)
		return settled(c), fmt.Sprint(c)
	})
	var failed atomic.Int64
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		failed.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer failing.Close()
	r := newRecorder(t)
	var f, h endpointJSON
	nodes[0].do(t, "POST", "/v1/endpoints", map[string]any{"url": failing.URL + "/f"}, &f)
	nodes[0].do(t, "POST", "/v1/endpoints", map[string]any{"url": r.URL + "/h"}, &h)
	send := func(p *proc, n int) {
		for range n {
			if code := p.do(t, "POST", "/v1/events", map[string]any{"type": "x", "data": 1}, nil); code != 202 {
				t.Fatalf("POST /v1/events: %d", code)
			}
		}
	}
	circuit := func(p *proc) string {
		var ep struct {
			Health struct{ Circuit string } `json:"health"`
		}
		p.do(t, "GET", "/v1/endpoints/"+f.ID, nil, &ep)
		return ep.Health.Circuit
	}
	send(nodes[0], 5)
	owner := 0
	if leaseOwners(t, db)[hookline.PartitionOf(f.ID)] == "n1" {
		owner = 1
	}
	other := 1 - owner
	eventually(t, 15*time.Second, "the circuit open on the owner", func() (bool, string) {
		c := circuit(nodes[owner])
		return c == "open", c
	})
	before := failed.Load() // from here on, only probes could reach it, an hour apart
	if err := nodes[owner].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the other node to own every partition", func() (bool, string) {
		n := nodes[other].partitions()
		return n == hookline.Partitions, fmt.Sprint(n)
	})
	if c := circuit(nodes[other]); c != "open" {
		t.Fatalf("circuit on the new owner: %s, want open", c)
	}
	send(nodes[other], 5)
	eventually(t, 15*time.Second, "the healthy endpoint's 10 deliveries", func() (bool, string) {
		n := r.n.Load()
		return n >= 10, fmt.Sprint(n)
	})
	if n := failed.Load(); n != before {
		t.Fatalf("the new owner sent %d requests to an endpoint whose circuit was open", n-before)
	}
}

// TestClusterFIFOOrderAcrossMoves sends events of a few keys to a fifo
// endpoint through two nodes, one after the other per key, while the
// receiver fails a quarter of the requests at random; in the middle a node
// stops (its partitions move) and another joins (they move again). Every
// key's events first succeed in the order they were accepted.
func TestClusterFIFOOrderAcrossMoves(t *testing.T) {
	db := clusterDatabase(t)
	flags := []string{"--lease-timeout", "3s", "--breaker-failures", "1000000",
		"--retry-schedule", "0s" + strings.Repeat(",20ms", 30)}
	nodes := []*proc{clusterNode(t, db, "n0", flags...), clusterNode(t, db, "n1", flags...)}
	eventually(t, 15*time.Second, "2 nodes sharing the partitions", func() (bool, string) {
		c := owned(nodes)
		return settled(c), fmt.Sprint(c)
	})
	var mu sync.Mutex
	firsts := map[string][]int{}
	seen := map[string]bool{}
	var n atomic.Int64
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			ID   string `json:"id"`
			Data struct {
				Key string `json:"key"`
				N   int    `json:"n"`
			} `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if n.Add(1)%4 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		mu.Lock()
		if !seen[m.ID] {
			seen[m.ID] = true
			firsts[m.Data.Key] = append(firsts[m.Data.Key], m.Data.N)
		}
		mu.Unlock()
	}))
	defer rc.Close()
	var ep endpointJSON
	nodes[0].do(t, "POST", "/v1/endpoints", map[string]any{"url": rc.URL, "ordering": "fifo"}, &ep)
	const keys, perKey = 3, 60
	var wg sync.WaitGroup
	progress := make([]atomic.Int64, keys)
	post := func(p *proc, body map[string]any) error {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", p.url+"/v1/events", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+p.key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 202 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	for k := range keys {
		wg.Go(func() {
			for i := range perKey {
				p := nodes[(k+i)%2]
				if i >= perKey/3 {
					p = nodes[0] // n1 stops once every key is a third through
				}
				key := fmt.Sprint("k", k)
				body := map[string]any{"type": "o", "ordering_key": key, "data": map[string]any{"key": key, "n": i}}
				if err := post(p, body); err != nil {
					t.Errorf("POST /v1/events to %s: %v", p.url, err)
					return
				}
				progress[k].Store(int64(i + 1))
			}
		})
	}
	eventually(t, 15*time.Second, "every key a third through", func() (bool, string) {
		low := int64(perKey)
		for k := range progress {
			low = min(low, progress[k].Load())
		}
		return low >= perKey/3, fmt.Sprint(low)
	})
	if err := nodes[1].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "n0 to own every partition", func() (bool, string) {
		c := nodes[0].partitions()
		return c == hookline.Partitions, fmt.Sprint(c)
	})
	joined := clusterNode(t, db, "n2", flags...)
	eventually(t, 15*time.Second, "n0 and n2 sharing the partitions", func() (bool, string) {
		c := owned([]*proc{nodes[0], joined})
		return settled(c), fmt.Sprint(c)
	})
	wg.Wait()
	eventually(t, 60*time.Second, "every delivery", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == keys*perKey, fmt.Sprint(len(seen))
	})
	mu.Lock()
	defer mu.Unlock()
	for k := range keys {
		got := firsts[fmt.Sprint("k", k)]
		if len(got) != perKey || !slices.IsSorted(got) {
			t.Fatalf("key k%d: first successes in order %v", k, got)
		}
	}
}

// TestClusterPausedNode freezes the node dispatching most endpoints
// (SIGSTOP) while it has requests in flight and more queued, until its
// leases expire and the other node delivers everything; then it wakes
// (SIGCONT). It must send nothing after waking, past its dispatch deadline:
// a delivery is received twice at most, and only if the frozen node sent it
// before it froze; and its late outcomes must not overwrite the new
// owner's (nothing ends failed or pending).
func TestClusterPausedNode(t *testing.T) {
	const (
		leaseTimeout = 2 * time.Second
		endpoints    = 4
		perEndpoint  = 2 // max_in_flight
		events       = 200
	)
	db := clusterDatabase(t)
	flags := []string{"--lease-timeout", leaseTimeout.String(), "--delivery-timeout", "20s"}
	nodes := []*proc{clusterNode(t, db, "n0", flags...), clusterNode(t, db, "n1", flags...)}
	eventually(t, 15*time.Second, "2 nodes sharing the partitions", func() (bool, string) {
		c := owned(nodes)
		return settled(c), fmt.Sprint(c)
	})
	r := newRecorder(t)
	// Short requests: a node that went on sending after waking would send
	// many before its next lease round told it that it owns nothing.
	r.delay = 50 * time.Millisecond
	var paths, ids []string
	for i := range endpoints {
		path := fmt.Sprintf("/ep/%d", i)
		var ep endpointJSON
		if code := nodes[0].do(t, "POST", "/v1/endpoints", map[string]any{"url": r.URL + path, "max_in_flight": perEndpoint}, &ep); code != 201 {
			t.Fatalf("create endpoint: %d", code)
		}
		paths, ids = append(paths, path), append(ids, ep.ID)
	}
	leases := leaseOwners(t, db)
	victim := 0
	for _, id := range ids {
		if leases[hookline.PartitionOf(id)] == "n1" {
			victim++
		}
	}
	if victim*2 > endpoints {
		victim = 1
	} else {
		victim = 0
	}
	other := 1 - victim
	owner := fmt.Sprint("n", victim)
	victimEndpoints := 0
	for _, id := range ids {
		if leases[hookline.PartitionOf(id)] == owner {
			victimEndpoints++
		}
	}
	var acc []accepted
	for range events {
		var res eventResult
		if code := nodes[other].do(t, "POST", "/v1/events", map[string]any{"type": "x", "data": 1}, &res); code != 202 {
			t.Fatalf("POST /v1/events: %d", code)
		}
		acc = append(acc, accepted{id: res.ID, node: other})
	}
	eventually(t, 15*time.Second, "requests in flight and more queued on the victim", func() (bool, string) {
		var st hookline.Stats
		nodes[victim].do(t, "GET", "/v1/stats", nil, &st)
		return st.Node.InFlight >= perEndpoint && st.Node.InMemory > st.Node.InFlight+2*victimEndpoints*perEndpoint,
			fmt.Sprintf("%d in flight, %d in memory", st.Node.InFlight, st.Node.InMemory)
	})
	var st hookline.Stats
	nodes[victim].do(t, "GET", "/v1/stats", nil, &st)
	froze := time.Now()
	if err := nodes[victim].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := st.Node.InFlight
	waitDelivered(t, r, nodes[other], acc, paths, 60*time.Second)
	woke := time.Now()
	if err := nodes[victim].cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the woken node to hold nothing of what it had", func() (bool, string) {
		var st hookline.Stats
		nodes[victim].do(t, "GET", "/v1/stats", nil, &st)
		return st.Node.InMemory == 0, fmt.Sprint(st.Node.InMemory, " in memory")
	})
	eventually(t, 15*time.Second, "every delivery settled", func() (bool, string) {
		var st hookline.Stats
		nodes[other].do(t, "GET", "/v1/stats", nil, &st)
		return st.Pending == 0 && st.Delivered == int64(events*endpoints),
			fmt.Sprintf("%d pending, %d delivered, %d failed", st.Pending, st.Delivered, st.Failed)
	})
	// Everything was delivered before the node woke: whatever arrives later
	// the woken node sent, past its dispatch deadline.
	if n := r.since(woke); n > 0 {
		t.Errorf("%d deliveries received after the frozen node woke", n)
	}
	// A delivery received twice was sent by the frozen node before it froze
	// (in flight, or answered with its outcome not yet written), and again
	// by the new owner once the leases expired.
	dups := r.duplicates()
	for k, ts := range dups {
		if len(ts) > 2 {
			t.Errorf("delivery %s %s received %d times", k.id, k.path, len(ts))
		}
		if first := ts[0].Sub(froze); first > leaseTimeout/2 {
			t.Errorf("delivery %s %s received twice, first %s after the node froze: not sent before it", k.id, k.path, first)
		}
	}
	t.Logf("%d in flight when frozen, %d deliveries received twice", frozen, len(dups))
}

// TestClusterKeyRevoked checks tenant keys across nodes: a key made on one
// node works on the other, sees its tenant only there too, and once revoked
// on the first is refused by the second within a second.
func TestClusterKeyRevoked(t *testing.T) {
	db := clusterDatabase(t)
	nodes := []*proc{clusterNode(t, db, "n0"), clusterNode(t, db, "n1")}
	var acme, globex endpointJSON
	nodes[0].do(t, "POST", "/v1/endpoints", map[string]any{"url": "https://acme.example.com/", "tenant": "acme"}, &acme)
	nodes[0].do(t, "POST", "/v1/endpoints", map[string]any{"url": "https://globex.example.com/", "tenant": "globex"}, &globex)
	var key struct{ ID, Key string }
	if code := nodes[0].do(t, "POST", "/v1/keys", map[string]any{"tenant": "acme"}, &key); code != 201 {
		t.Fatalf("create key: %d", code)
	}
	tenant := *nodes[1]
	tenant.key = key.Key
	var l struct{ Data []endpointJSON }
	if code := tenant.do(t, "GET", "/v1/endpoints", nil, &l); code != 200 || len(l.Data) != 1 || l.Data[0].ID != acme.ID {
		t.Fatalf("acme's key on the other node: %d %+v", code, l.Data)
	}
	if code := tenant.do(t, "GET", "/v1/endpoints/"+globex.ID, nil, nil); code != 404 {
		t.Fatalf("globex's endpoint with acme's key on the other node: %d", code)
	}
	if code := nodes[0].do(t, "DELETE", "/v1/keys/"+key.ID, nil, nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	took := eventually(t, time.Second, "the other node to refuse the revoked key", func() (bool, string) {
		code := tenant.do(t, "GET", "/v1/endpoints", nil, nil)
		return code == 401, fmt.Sprint(code)
	})
	t.Logf("the other node refused the revoked key %s after it was revoked", took.Round(time.Millisecond))
}

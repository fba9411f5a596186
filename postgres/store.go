// Package postgres is Hookline's PostgreSQL store, which many `hookline
// serve` processes (nodes) share.
//
// Every write is one transaction, committed with synchronous_commit on (the
// server's default), so a commit that returned is on disk; ingest and replay,
// answered 202, set it on in their transactions whatever the database, role
// or URL says. An ingest whose COMMIT was sent and not confirmed returns an
// error that wraps hookline.ErrCommitUnknown. Writes that touch
// many rows are batched: ingest writes all the events, deliveries and
// idempotency keys of a group commit with one statement each (arrays
// unnested server-side), and RecordOutcomes updates the deliveries and
// inserts the attempts of a batch in one statement.
//
// What the SQLite store keeps in memory because it is the only writer of its
// file, this store keeps in the database, where every node sees it:
//
//   - The counts behind Stats and PendingCount are kept by triggers in a
//     small table (counts), so reading them is a sum over 64 rows.
//   - The fan-out subscriptions are cached per node, tenant by tenant, and
//     checked on every ingest against a version that every endpoint change
//     bumps in its own transaction (endpoints_version). An endpoint created
//     on one node is seen by the next ingest on any node.
//
// Schema changes are embedded migrations (migrations/*.sql), applied by Open
// under an advisory lock.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/secretbox"
)

var _ hookline.Store = (*Store)(nil)

// Store is the PostgreSQL implementation of hookline.Store. Its methods are
// safe for concurrent use, and any number of Stores, in any number of
// processes, may share one database schema.
type Store struct {
	pool   *pgxpool.Pool
	schema string // "" when the connection's search_path decides
	subs   subscriptions
	notify notifier
	// owner is this store's number in claim_owners, written with every
	// claim it makes; only its own claims' outcomes are recorded.
	owner int64

	box      *secretbox.Box // seals endpoint secrets; nil: stored in plain
	resealed int            // endpoints whose secrets Open re-sealed
}

// Option configures Open.
type Option func(*options)

type options struct {
	schema          string
	maxConns        int32
	box             *secretbox.Box
	skipSecretCheck bool
}

// WithSchema keeps the store's tables in the named schema, which Open
// creates if it does not exist: the connections' search_path is set to it
// alone. Without it, the tables go where the URL's search_path says (by
// default public). Tests give each store a schema of its own.
func WithSchema(name string) Option { return func(o *options) { o.schema = name } }

// WithMaxConns bounds the store's connection pool. The default is the
// URL's pool_max_conns, or else 4 plus twice the number of CPUs.
func WithMaxConns(n int) Option { return func(o *options) { o.maxConns = int32(n) } }

// WithSecretBox encrypts endpoint secrets (current and previous) in the
// database with box. Open then reads every endpoint's secrets, in pages of
// 1000 by ID: each must open with the box's keys (a secret sealed with
// another key fails Open), and those not sealed with its current key
// (stored in plain, or with a previous key) are re-sealed with it, 100
// endpoints to a statement, each row only if no other node changed it
// meanwhile. Without it, secrets are stored as given, and Open fails if any
// is sealed. Every node of a cluster needs the keys that sealed what the
// others write (see the README's key rotation).
func WithSecretBox(box *secretbox.Box) Option { return func(o *options) { o.box = box } }

// SkipSecretCheck makes Open neither check nor re-seal endpoint secrets, for
// a process that only migrates the schema (hookline migrate) and so needs
// no key. Reads of sealed secrets without the box still fail.
func SkipSecretCheck() Option { return func(o *options) { o.skipSecretCheck = true } }

// idleTxTimeout is how long the server lets a transaction of the store sit
// idle before it ends it (see Open).
const idleTxTimeout = 5 * time.Second

// Open connects to the PostgreSQL database at url (a postgres:// URL or a
// key=value DSN, as pgx accepts them), brings its schema up to date, and
// checks the endpoint secrets (see WithSecretBox). A database that cannot
// be reached is an EUNAVAILABLE error.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	// A node that freezes (SIGSTOP, a paused VM) inside a transaction would
	// keep its row locks, and the node that takes its partitions over would
	// skip those rows, or wait on them, for as long: the server ends such a
	// transaction after idleTxTimeout. Every transaction of the store is a
	// few statements sent back to back, far shorter. A URL that sets it wins.
	if _, set := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !set {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.Itoa(int(idleTxTimeout.Milliseconds()))
	}
	if o.schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{o.schema}.Sanitize()
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	} else if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = int32(4 + 2*runtime.GOMAXPROCS(0))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s := &Store{pool: pool, schema: o.schema, box: o.box}
	s.subs.box = o.box
	s.notify.init(s)
	if err := s.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := pool.QueryRow(ctx, "SELECT nextval('claim_owners')").Scan(&s.owner); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: take a claim owner number: %w", err)
	}
	if !o.skipSecretCheck {
		if err := s.checkSecrets(ctx); err != nil {
			pool.Close()
			return nil, s.wrap("open", err)
		}
	}
	return s, nil
}

// Close stops listening for due work and closes the connection pool. Every
// write has committed by the time its method returned, so nothing is lost.
func (s *Store) Close() error {
	s.notify.close()
	s.pool.Close()
	return nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return s.wrap("ping", err)
	}
	return nil
}

// Stats counts deliveries by status, events and endpoints, from the counts
// table the triggers keep: a sum over 64 rows, exact for the whole cluster.
func (s *Store) Stats(ctx context.Context) (hookline.StoreStats, error) {
	var st hookline.StoreStats
	c := &st.EndpointsByCircuit
	err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(pending), 0), coalesce(sum(delivered), 0),
		coalesce(sum(failed), 0), coalesce(sum(events), 0), coalesce(sum(endpoints), 0),
		(SELECT count(*) FILTER (WHERE circuit = 1) FROM endpoint_health),
		(SELECT count(*) FILTER (WHERE circuit = 2) FROM endpoint_health),
		(SELECT count(*) FROM endpoints WHERE disabled AND deleted_at IS NULL) FROM counts`).
		Scan(&st.Pending, &st.Delivered, &st.Failed, &st.Events, &st.Endpoints, &c.Open, &c.HalfOpen, &st.EndpointsDisabled)
	if err != nil {
		return hookline.StoreStats{}, s.wrap("stats", err)
	}
	c.Closed = st.Endpoints - c.Open - c.HalfOpen
	return st, nil
}

// PendingCount returns the number of pending deliveries in the whole
// cluster, from the counts table: cheap however long the backlog.
func (s *Store) PendingCount(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, "SELECT coalesce(sum(pending), 0) FROM counts").Scan(&n); err != nil {
		return 0, s.wrap("count pending", err)
	}
	return n, nil
}

// maxTries bounds how many times a transaction that lost a race (a deadlock,
// a serialization failure, an idempotency key taken meanwhile) is run.
const maxTries = 8

// inTx runs fn in a transaction and commits it, running it again when it
// lost a race with another transaction. Errors are wrapped with op.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	return s.retry(ctx, op, func() error { return pgx.BeginFunc(ctx, s.pool, fn) })
}

// retry calls fn, again when it lost a race with another transaction, at
// most maxTries times. Errors are wrapped with op.
func (s *Store) retry(ctx context.Context, op string, fn func() error) error {
	var err error
	for try := 1; ; try++ {
		err = fn()
		if err == nil || try == maxTries || !retryable(err) || ctx.Err() != nil {
			break
		}
		// Let the winner finish; longer each time.
		select {
		case <-time.After(time.Duration(try*try) * time.Millisecond):
		case <-ctx.Done():
		}
	}
	return s.wrap(op, err)
}

// sendTx sends a batch that begins and commits a transaction (BEGIN …
// COMMIT, one round trip) on a connection of its own, and rolls it back when
// it fails.
func (s *Store) sendTx(ctx context.Context, b *pgx.Batch) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	err = conn.SendBatch(ctx, b).Close()
	if err != nil {
		rollback(ctx, conn)
	}
	return err
}

// rollback ends the transaction a failed batch left open on conn, if any:
// the pool would close the connection rather than reuse it.
func rollback(ctx context.Context, conn *pgxpool.Conn) {
	c := conn.Conn()
	if c.IsClosed() || c.PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
		_ = c.Close(ctx)
	}
}

// retryable reports whether a transaction failed for losing a race, so that
// running it again can succeed.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", // serialization_failure
			"40P01": // deadlock_detected
			return true
		case "23505": // unique_violation: of an idempotency key that another node took (Ingest)
			return pe.ConstraintName == "idempotency_keys_pkey"
		}
	}
	return false
}

// wrap returns err as the store's methods return it: nil as nil, a
// *hookline.Error as it is, an unreachable database as EUNAVAILABLE, and
// anything else prefixed with the operation.
func (s *Store) wrap(op string, err error) error {
	var he *hookline.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &he):
		return err
	case unavailable(err):
		return fmt.Errorf("postgres: %s: %w: %w", op, err,
			hookline.Errorf(hookline.EUNAVAILABLE, "the database is unavailable; try again later"))
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// unavailable reports whether err says that the database cannot be reached
// or cannot take work now, rather than that the request was wrong.
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case len(pe.Code) == 5 && pe.Code[:2] == "08", // connection exception
			len(pe.Code) == 5 && pe.Code[:2] == "53",                   // insufficient resources
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutting down, starting up
			pe.Code == "25006": // read-only transaction: a standby or a failover under way
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}

// The delivery states as stored.
const (
	statusPending   = 0
	statusDelivered = 1
	statusFailed    = 2
)

func statusValue(s hookline.DeliveryStatus) int16 {
	switch s {
	case hookline.StatusDelivered:
		return statusDelivered
	case hookline.StatusFailed:
		return statusFailed
	}
	return statusPending
}

func statusOf(v int16) hookline.DeliveryStatus {
	switch v {
	case statusDelivered:
		return hookline.StatusDelivered
	case statusFailed:
		return hookline.StatusFailed
	}
	return hookline.StatusPending
}

// truncate returns t in UTC to the microsecond, as the store keeps it.
func truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// utc returns a time read from the database in UTC, nil as nil.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// pageLimit returns the page size for a requested limit.
func pageLimit(limit int) int {
	if limit <= 0 {
		return hookline.DefaultLimit
	}
	return min(limit, hookline.MaxLimit)
}

// paginate cuts a list read with limit+1 rows to limit and returns the
// cursor of the next page: the ID of the last item kept, or "" when nothing
// was cut.
func paginate[T any](items []T, limit int, id func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, id(items[limit-1])
}

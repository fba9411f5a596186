// Package sqlite is Hookline's embedded store: one SQLite database file,
// written by this process only.
//
// The store keeps two database/sql handles on the file: a write handle with
// exactly one connection, through which every write goes in turn (SQLite has
// a single writer anyway), and a pool of read connections, which WAL lets
// read while the writer writes. Each commit is fsync'd (synchronous=FULL).
//
// Because it is the only writer of its file, the store keeps in memory what
// it would otherwise query on every hot call: every endpoint (the fan-out
// subscriptions of ingest and the endpoint snapshots of tasks), and the
// counts behind Stats and PendingCount. Both are loaded at Open and changed
// only after the transaction that changed the database commits.
package sqlite

import (
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/secretbox"
)

var _ hookline.Store = (*Store)(nil)

//go:embed schema.sql
var schemaV1 string

//go:embed schema_v2.sql
var schemaV2 string

//go:embed schema_v3.sql
var schemaV3 string

//go:embed schema_v4.sql
var schemaV4 string

//go:embed schema_v5.sql
var schemaV5 string

//go:embed schema_v6.sql
var schemaV6 string

//go:embed schema_v7.sql
var schemaV7 string

//go:embed schema_v8.sql
var schemaV8 string

//go:embed schema_v9.sql
var schemaV9 string

//go:embed schema_v10.sql
var schemaV10 string

//go:embed schema_v11.sql
var schemaV11 string

//go:embed schema_v12.sql
var schemaV12 string

//go:embed schema_v13.sql
var schemaV13 string

// migrations are the schema changes, in order: migrations[i] takes the
// database from user_version i to i+1. Append; never edit a released one.
var migrations = []string{schemaV1, schemaV2, schemaV3, schemaV4, schemaV5, schemaV6, schemaV7, schemaV8, schemaV9,
	schemaV10, schemaV11, schemaV12, schemaV13}

// Store is the SQLite implementation of hookline.Store. Its methods are safe
// for concurrent use.
type Store struct {
	wdb   *sql.DB // exactly one connection; every write
	rdb   *sql.DB // the read pool
	stmts *statements

	// mu serialises writes and guards endpoints: a write holds it from
	// before its transaction begins until the in-memory state matches what
	// it committed.
	mu    sync.Mutex
	gate  ingestGate // Ingest takes mu ahead of RecordOutcomes (gate.go)
	rides rides      // an Ingest rides on the outcome transaction holding mu (ride.go)
	// outcomeTurn is how long an outcome transaction keeps the writer
	// before it lets a waiting Ingest go first (outcomeYield).
	outcomeTurn time.Duration
	endpoints   *endpointCache

	counts *counts // exact: only this store writes the file

	// seq is the accepted order of the last event ingested: the store is
	// the only writer, so the order it assigns is the commit order. Under
	// mu.
	seq int64

	// version is the number of the latest endpoint write: each takes the
	// next one under mu, and stores it here once it has committed.
	version atomic.Int64

	claims claims // who holds the claims of the file, and since when; under mu
	held   held   // the deliveries whose rows are not written yet (held.go); under mu

	ckpt *checkpointer // copies the WAL into the file (checkpoint.go)

	box      *secretbox.Box // seals endpoint secrets; nil: stored in plain
	resealed int            // endpoints whose secrets Open re-sealed
}

// Option configures Open.
type Option func(*Store)

// WithSecretBox encrypts endpoint secrets (current and previous) in the
// database with box. At Open, every endpoint's secrets must open with the
// box's keys (a secret sealed with another key, or sealed when no box is
// given, fails Open), and those not sealed with its current key (stored in
// plain, or with a previous key) are re-sealed with it, in transactions of
// 100 endpoints, before Open returns. When some were in plain, Open then
// rewrites the file (VACUUM) and truncates the WAL, so that no plain copy
// is left in free space: once, and as long as copying the file takes.
// Without it, secrets are stored as given.
func WithSecretBox(box *secretbox.Box) Option { return func(s *Store) { s.box = box } }

// Open opens the database file at path, creating it if it does not exist
// (its directory must), and brings its schema up to date. It fails on a
// database written by a newer Hookline, and on endpoint secrets it cannot
// open (see WithSecretBox).
func Open(path string, opts ...Option) (*Store, error) {
	ctx := context.Background()
	wdb, err := sql.Open(driverName, writeDSN(path))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	s := &Store{wdb: wdb, outcomeTurn: outcomeTurn}
	for _, o := range opts {
		o(s)
	}
	if err := s.open(ctx, path); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) open(ctx context.Context, path string) error {
	var mode string
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	} else if mode != "wal" {
		return fmt.Errorf("sqlite: open %s: journal_mode is %q, not wal", path, mode)
	}
	if err := migrate(ctx, s.wdb); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// The read pool is opened once the file is in WAL mode and migrated.
	rdb, err := sql.Open(driverName, readDSN(path))
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	rdb.SetConnMaxIdleTime(5 * time.Minute)
	s.rdb = rdb
	if s.stmts, err = prepare(ctx, s.wdb); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	var stale []*hookline.Endpoint
	var plain bool
	if s.endpoints, stale, plain, err = loadEndpoints(ctx, s.wdb, s.box); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := s.resealSecrets(ctx, stale, plain); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := s.recoverHeld(ctx); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if s.counts, err = loadCounts(ctx, s.wdb); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := s.wdb.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM events").Scan(&s.seq); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	var version int64
	if err := s.wdb.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM endpoints").Scan(&version); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.version.Store(version)
	// The checkpointer starts last: what Open wrote is in the WAL, and
	// resealSecrets's own checkpoint must not find one under way.
	if s.ckpt, err = newCheckpointer(path, outcomeLock{s}); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return nil
}

// migrate applies the migrations the database has not seen, each in its own
// transaction with the user_version it sets.
func migrate(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this Hookline's (%d)", v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
		}
	}
	return nil
}

// Close closes the database. Every write has committed by the time its
// method returned, so nothing is lost.
func (s *Store) Close() error {
	var errs []error
	if s.ckpt != nil {
		errs = append(errs, s.ckpt.close())
	}
	if s.stmts != nil {
		errs = append(errs, s.stmts.close())
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	errs = append(errs, s.wdb.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// Ping reports whether the database answers reads.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.rdb.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Stats returns the counts the store keeps in memory; it does not touch the
// database.
func (s *Store) Stats(ctx context.Context) (hookline.StoreStats, error) {
	s.mu.Lock()
	disabled := s.endpoints.disabled
	s.mu.Unlock()
	return s.counts.stats(disabled), nil
}

// PendingCount returns the number of pending deliveries from memory.
func (s *Store) PendingCount(ctx context.Context) (int64, error) {
	return s.counts.pending(), nil
}

// EndpointCounts returns an endpoint's pending and failed deliveries from
// memory, or ENOTFOUND.
func (s *Store) EndpointCounts(ctx context.Context, endpointID string) (hookline.EndpointCounts, error) {
	s.mu.Lock()
	known := s.endpoints.get(endpointID) != nil
	s.mu.Unlock()
	if !known {
		return hookline.EndpointCounts{}, endpointNotFound(endpointID)
	}
	return s.counts.endpoint(endpointID), nil
}

// write runs fn in a transaction on the write connection and commits it.
// The caller holds s.mu.
//
// Foreign keys are deferred (see schema.sql), so a violation fails the
// COMMIT, which in SQLite leaves the transaction open. The drivers roll it
// back then, as database/sql expects; write makes sure, so that the one
// write connection is never left inside a transaction. A COMMIT that fails
// otherwise (an I/O error, a full disk, an interrupt) may have reached the
// file: its error wraps hookline.ErrCommitUnknown.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		_, _ = s.wdb.ExecContext(context.Background(), "ROLLBACK") // fails when none is open
		if !isConstraint(err) {
			return fmt.Errorf("%w: %w", err, hookline.ErrCommitUnknown)
		}
		return err
	}
	s.ckpt.wrote()
	return nil
}

// The delivery states as stored.
const (
	statusPending   = 0
	statusDelivered = 1
	statusFailed    = 2
)

func statusValue(s hookline.DeliveryStatus) int64 {
	switch s {
	case hookline.StatusDelivered:
		return statusDelivered
	case hookline.StatusFailed:
		return statusFailed
	}
	return statusPending
}

func statusOf(v int64) hookline.DeliveryStatus {
	switch v {
	case statusDelivered:
		return hookline.StatusDelivered
	case statusFailed:
		return hookline.StatusFailed
	}
	return hookline.StatusPending
}

// addStatus adds n deliveries of the stored status v to st.
func addStatus(st *hookline.StoreStats, v, n int64) {
	switch v {
	case statusPending:
		st.Pending += n
	case statusDelivered:
		st.Delivered += n
	case statusFailed:
		st.Failed += n
	}
}

// Times are stored as unix microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// pageLimit returns the page size for a requested limit.
func pageLimit(limit int) int {
	if limit <= 0 {
		return hookline.DefaultLimit
	}
	return min(limit, hookline.MaxLimit)
}

// jsonList encodes ids as a JSON array, for "IN (SELECT value FROM
// json_each(?))": one statement, prepared once, for a list of any length.
func jsonList[T any](ids []T) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

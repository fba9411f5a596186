package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/searchbench"
)

// BenchmarkSearch times the list and count queries of the API on a store of
// HOOKLINE_SEARCH_DELIVERIES deliveries (default 100,000; docs/perf uses
// 10,000,000). The data set is written straight into the tables, with the
// deliveries' indexes dropped meanwhile and made again after (as a bulk
// load would), in a temporary file, or in HOOKLINE_SEARCH_DB, which a later
// run of the same size reuses:
//
//	HOOKLINE_SEARCH_DELIVERIES=10000000 HOOKLINE_SEARCH_DB=/tmp/search.db \
//		go test ./sqlite -run '^$' -bench BenchmarkSearch -benchtime 20x
func BenchmarkSearch(b *testing.B) {
	n := searchbench.Size(100_000)
	path := os.Getenv("HOOKLINE_SEARCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "search.db")
	}
	data := searchbench.New(n, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	s := openSearch(b, path, data)
	searchbench.Run(b, s, data.Cases())
}

// openSearch opens the store at path holding data, building it when the
// file does not hold that many deliveries.
func openSearch(b *testing.B, path string, data *searchbench.Data) *Store {
	b.Helper()
	ctx := context.Background()
	s, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	var have int
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM endpoints").Scan(&have); err != nil {
		b.Fatal(err)
	}
	if have == 0 {
		start := time.Now()
		if err := buildSearch(ctx, s, data); err != nil {
			b.Fatal(err)
		}
		b.Logf("built %d deliveries in %v", data.N, time.Since(start).Round(time.Second))
		// Reopen: the counts are loaded at Open.
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		if s, err = Open(path); err != nil {
			b.Fatal(err)
		}
	} else {
		// The endpoints of the stored set (their IDs are random).
		eps, _, err := s.FindEndpoints(ctx, hookline.EndpointFilter{Limit: hookline.MaxLimit})
		if err != nil || len(eps) != len(data.Endpoints) {
			b.Fatalf("%s holds another data set (%d endpoints, %v); remove it", path, len(eps), err)
		}
		data.Endpoints[0] = eps[len(eps)-1] // the oldest: of tenant0, as New made it
	}
	b.Cleanup(func() { s.Close() })
	var got int
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM deliveries").Scan(&got); err != nil {
		b.Fatal(err)
	}
	if got != data.N {
		b.Fatalf("%s holds %d deliveries, not %d; remove it", path, got, data.N)
	}
	return s
}

// buildSearch writes data into the store's tables.
func buildSearch(ctx context.Context, s *Store, data *searchbench.Data) error {
	for _, ep := range data.Endpoints {
		if err := s.CreateEndpoint(ctx, ep); err != nil {
			return err
		}
	}
	db := s.wdb
	if _, err := db.ExecContext(ctx, "PRAGMA synchronous = OFF"); err != nil {
		return err
	}
	var indexes []string
	rows, err := db.QueryContext(ctx, "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('deliveries', 'events') AND sql IS NOT NULL")
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var name, q string
		if err := rows.Scan(&name, &q); err != nil {
			return err
		}
		names, indexes = append(names, name), append(indexes, q)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, name := range names {
		if _, err := db.ExecContext(ctx, "DROP INDEX "+name); err != nil {
			return err
		}
	}
	const perStmt = 400
	var tx *sql.Tx
	var evArgs, dArgs []any
	evRows, dRows, inTx := 0, 0, 0
	flush := func() error {
		if evRows > 0 {
			q := "INSERT INTO events (id, tenant, type, data, created_at, deliveries, priority, ordering_key, seq) VALUES " +
				strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, 5, '', 0),", evRows), ",")
			if _, err := tx.ExecContext(ctx, q, evArgs...); err != nil {
				return err
			}
		}
		if dRows > 0 {
			q := `INSERT INTO deliveries (id, event_id, endpoint_id, partition, status, attempts, next_attempt_at, last_status_code,
				created_at, updated_at, delivered_at, priority, seq, event_type) VALUES ` +
				strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 5, 0, ?),", dRows), ",")
			if _, err := tx.ExecContext(ctx, q, dArgs...); err != nil {
				return err
			}
		}
		evArgs, dArgs, evRows, dRows = evArgs[:0], dArgs[:0], 0, 0
		return nil
	}
	data1 := []byte(`{"invoice":"in_1234567890","amount":4200,"currency":"eur"}`)
	err = data.Each(func(ev *searchbench.Event) error {
		if tx == nil {
			var err error
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				return err
			}
		}
		at := micros(ev.CreatedAt)
		evArgs = append(evArgs, ev.ID, ev.Tenant, ev.Type, data1, at, int64(len(ev.Deliveries)))
		evRows++
		for _, d := range ev.Deliveries {
			var next, delivered any
			st, attempts, code := statusDelivered, 1, 200
			switch d.Status {
			case hookline.StatusPending:
				st, attempts, code, next = statusPending, 0, 0, at
			case hookline.StatusFailed:
				st, attempts, code = statusFailed, 8, 500
			default:
				delivered = at
			}
			dArgs = append(dArgs, d.ID, ev.ID, d.Endpoint.ID, int64(d.Endpoint.Partition()), int64(st), int64(attempts), next,
				int64(code), at, at, delivered, ev.Type)
			dRows++
		}
		if dRows+len(ev.Deliveries) > perStmt {
			if err := flush(); err != nil {
				return err
			}
		}
		if inTx++; inTx == 20_000 {
			if err := flush(); err != nil {
				return err
			}
			inTx = 0
			err := tx.Commit()
			tx = nil
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if tx != nil {
		if err := flush(); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	for _, q := range indexes {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	_, err = db.ExecContext(ctx, "ANALYZE")
	return err
}

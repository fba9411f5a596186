package postgres_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/searchbench"
	"github.com/hookline/hookline/postgres"
)

// BenchmarkSearch times the list and count queries of the API on a store of
// HOOKLINE_SEARCH_DELIVERIES deliveries (default 100,000; docs/perf uses
// 10,000,000), as the SQLite one does. The data set is copied straight into
// the tables (COPY, the deliveries' and events' indexes dropped meanwhile and
// made again after), in a schema of its own that the run drops, or in
// HOOKLINE_SEARCH_SCHEMA, which is kept and which a later run of the same
// size reuses:
//
//	HOOKLINE_SEARCH_DELIVERIES=10000000 HOOKLINE_SEARCH_SCHEMA=search10m \
//		go test ./postgres -run '^$' -bench BenchmarkSearch -benchtime 20x
func BenchmarkSearch(b *testing.B) {
	url := databaseURL(b)
	n := searchbench.Size(100_000)
	schema := os.Getenv("HOOKLINE_SEARCH_SCHEMA")
	if schema == "" {
		schema = testSchema(b)
	}
	data := searchbench.New(n, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	ctx := context.Background()
	s := openStore(b, schema)
	eps, _, err := s.FindEndpoints(ctx, hookline.EndpointFilter{Limit: hookline.MaxLimit})
	if err != nil {
		b.Fatal(err)
	}
	if len(eps) == 0 {
		start := time.Now()
		if err := buildSearch(ctx, s, url, schema, data); err != nil {
			b.Fatal(err)
		}
		b.Logf("built %d deliveries in %v", n, time.Since(start).Round(time.Second))
	} else if len(eps) != len(data.Endpoints) {
		b.Fatalf("schema %s holds another data set; drop it", schema)
	} else {
		data.Endpoints[0] = eps[len(eps)-1] // the oldest: of tenant0
	}
	searchbench.Run(b, s, data.Cases())
}

// buildSearch copies data into the store's tables on schema.
func buildSearch(ctx context.Context, s *postgres.Store, url, schema string, data *searchbench.Data) error {
	for _, ep := range data.Endpoints {
		if err := s.CreateEndpoint(ctx, ep); err != nil {
			return err
		}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SET search_path TO "+pgx.Identifier{schema}.Sanitize()+"; SET synchronous_commit = off"); err != nil {
		return err
	}
	rows, err := conn.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes
		WHERE schemaname = $1 AND tablename IN ('deliveries', 'events') AND indexname NOT LIKE '%_pkey'`, schema)
	if err != nil {
		return err
	}
	var names, defs []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			return err
		}
		names, defs = append(names, name), append(defs, def)
	}
	if rows.Close(); rows.Err() != nil {
		return rows.Err()
	}
	for _, name := range names {
		if _, err := conn.Exec(ctx, "DROP INDEX "+pgx.Identifier{name}.Sanitize()); err != nil {
			return err
		}
	}
	body := []byte(`{"invoice":"in_1234567890","amount":4200,"currency":"eur"}`)
	var evRows, dRows [][]any
	flush := func() error {
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"id", "tenant", "type", "data", "created_at", "deliveries"},
			pgx.CopyFromRows(evRows)); err != nil {
			return err
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"deliveries"}, []string{"id", "event_id", "endpoint_id", "partition", "status",
			"attempts", "next_attempt_at", "last_status_code", "created_at", "updated_at", "delivered_at", "event_type"},
			pgx.CopyFromRows(dRows)); err != nil {
			return err
		}
		evRows, dRows = evRows[:0], dRows[:0]
		return nil
	}
	err = data.Each(func(ev *searchbench.Event) error {
		evRows = append(evRows, []any{ev.ID, ev.Tenant, ev.Type, body, ev.CreatedAt, int32(len(ev.Deliveries))})
		for _, d := range ev.Deliveries {
			var next, delivered *time.Time
			st, attempts, code := int16(1), int32(1), int32(200)
			switch d.Status {
			case hookline.StatusPending:
				st, attempts, code, next = 0, 0, 0, &ev.CreatedAt
			case hookline.StatusFailed:
				st, attempts, code = 2, 8, 500
			default:
				delivered = &ev.CreatedAt
			}
			dRows = append(dRows, []any{d.ID, ev.ID, d.Endpoint.ID, int32(d.Endpoint.Partition()), st, attempts, next, code,
				ev.CreatedAt, ev.CreatedAt, delivered, ev.Type})
		}
		if len(dRows) >= 50_000 {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	for _, def := range defs {
		if _, err := conn.Exec(ctx, def); err != nil {
			return err
		}
	}
	_, err = conn.Exec(ctx, "ANALYZE deliveries; ANALYZE events")
	return err
}

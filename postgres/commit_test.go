package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/postgres"
)

// execIn runs sql on its own connection with schema as the search path.
func execIn(t *testing.T, schema, sql string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), databaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "SET search_path = "+pgx.Identifier{schema}.Sanitize()+"; "+sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestIngestCommitOutcome: when the connection dies under an ingest (the
// backend is terminated, as by a failover, while the batch that carries the
// COMMIT is under way), the client cannot know whether it committed: the
// error wraps hookline.ErrCommitUnknown. When the server refuses the
// transaction with an error of its own, nothing was written, and the error
// says so by not wrapping it.
func TestIngestCommitOutcome(t *testing.T) {
	t.Parallel()
	schema := testSchema(t)
	s := openStore(t, schema)
	mustCreate(t, s, newEndpoint("acme", epoch))
	ingest := func() error {
		return s.Ingest(t.Context(), []*hookline.IngestRequest{{Events: []*hookline.Event{newEvent("acme", "a", epoch)}}}, epoch)
	}

	execIn(t, schema, `CREATE FUNCTION hang_up() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$;
		CREATE TRIGGER hang_up AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION hang_up()`)
	err := ingest()
	if !errors.Is(err, hookline.ErrCommitUnknown) || hookline.ErrorCode(err) != hookline.EUNAVAILABLE {
		t.Fatalf("ingest whose connection died during the commit batch: %v; want ErrCommitUnknown, unavailable", err)
	}

	execIn(t, schema, `CREATE OR REPLACE FUNCTION hang_up() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`)
	for range 10 { // the pool may hand out a connection that died with the first
		if err = ingest(); hookline.ErrorCode(err) != hookline.EUNAVAILABLE {
			break
		}
	}
	if err == nil || errors.Is(err, hookline.ErrCommitUnknown) {
		t.Fatalf("ingest the server refused: %v; want an error that is not ErrCommitUnknown", err)
	}
}

// TestIngestSynchronousCommit: an ingest commits with synchronous_commit on
// whatever the connection's setting (here the URL turns it off, as an
// operator tuning the database for throughput might), since 202 promises
// that the events are on disk.
func TestIngestSynchronousCommit(t *testing.T) {
	t.Parallel()
	schema := testSchema(t)
	s, err := postgres.Open(t.Context(), databaseURL(t)+"&synchronous_commit=off", postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustCreate(t, s, newEndpoint("acme", epoch))
	execIn(t, schema, `CREATE TABLE seen (setting text);
		CREATE FUNCTION note_sync() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN INSERT INTO seen VALUES (current_setting('synchronous_commit')); RETURN NULL; END $$;
		CREATE TRIGGER note_sync AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION note_sync()`)
	mustIngest(t, s, epoch, true, newEvent("acme", "a", epoch))

	conn, err := pgx.Connect(t.Context(), databaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var settings []string
	rows, err := conn.Query(t.Context(), "SELECT setting FROM "+pgx.Identifier{schema, "seen"}.Sanitize())
	if err == nil {
		settings, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil || len(settings) != 1 || settings[0] != "on" {
		t.Fatalf("synchronous_commit inside the ingest transaction: %v (%v); want [on]", settings, err)
	}
}

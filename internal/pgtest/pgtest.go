// Package pgtest gives tests a PostgreSQL schema of their own on the server
// that scripts/pgtest.sh starts (HOOKLINE_TEST_DATABASE_URL). Without one,
// tests skip, unless HOOKLINE_REQUIRE_POSTGRES=1 (as make test sets), when
// they fail.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// URL returns the test server's URL, or skips (or fails) tb without one.
func URL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv("HOOKLINE_TEST_DATABASE_URL")
	if url == "" {
		if os.Getenv("HOOKLINE_REQUIRE_POSTGRES") == "1" {
			tb.Fatal("PostgreSQL tests need HOOKLINE_TEST_DATABASE_URL; run: eval \"$(scripts/pgtest.sh start)\", or make test")
		}
		tb.Skip("HOOKLINE_TEST_DATABASE_URL is not set; run: eval \"$(scripts/pgtest.sh start)\"")
	}
	return url
}

// Schema returns the name of a new schema, dropped when tb ends, and the
// server's URL.
func Schema(tb testing.TB) (url, schema string) {
	tb.Helper()
	url = URL(tb)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema = "test_" + hex.EncodeToString(b)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return url, schema
}

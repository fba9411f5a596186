package sqlite

import (
	"errors"
	"net/url"
	"path/filepath"
	"strconv"

	"modernc.org/sqlite"
)

// This file holds everything that depends on the SQLite driver: its name,
// its DSN syntax and its error type. To try another driver
// (github.com/mattn/go-sqlite3, github.com/ncruces/go-sqlite3), change this
// file only; the rest of the package speaks database/sql and SQLite's SQL.

// driverName is the database/sql driver the store opens.
const driverName = "sqlite"

// busyTimeout is how long, in milliseconds, a connection waits for a lock
// before it fails with SQLITE_BUSY. The store is the only writer of its
// file, so this only matters for readers during a checkpoint and for tools
// such as the sqlite3 shell opened beside a running Hookline.
const busyTimeout = 10000

// writeDSN returns the DSN of the write connection to the database file at
// path. Every pragma is applied per connection, when the driver opens it:
// WAL, so readers never wait for the writer; synchronous=FULL, so a commit
// is fsync'd before it returns (the durability promise of ingest); foreign
// keys, for the cascades; BEGIN IMMEDIATE, so a transaction takes the write
// lock when it starts rather than failing to upgrade halfway.
func writeDSN(path string) string {
	return fileURI(path) + "?" + encode([][2]string{
		{"_pragma", "busy_timeout(" + strconv.Itoa(busyTimeout) + ")"},
		{"_pragma", "journal_mode(WAL)"},
		{"_pragma", "synchronous(FULL)"},
		{"_pragma", "foreign_keys(1)"},
		{"_pragma", "journal_size_limit(67108864)"},
		{"_pragma", "wal_autocheckpoint(0)"}, // the checkpointer's job (checkpoint.go)
		{"_pragma", "cache_size(-16384)"},
		{"_pragma", "temp_store(MEMORY)"},
		{"_txlock", "immediate"},
	})
}

// checkpointDSN returns the DSN of the checkpointer's connection: it writes
// only the database file, from the WAL, fsync'd as the writer's commits are.
func checkpointDSN(path string) string {
	return fileURI(path) + "?" + encode([][2]string{
		{"_pragma", "busy_timeout(" + strconv.Itoa(busyTimeout) + ")"},
		{"_pragma", "synchronous(FULL)"},
	})
}

// readDSN returns the DSN of a connection of the read pool: query-only, so a
// bug cannot write past the single writer.
func readDSN(path string) string {
	return fileURI(path) + "?" + encode([][2]string{
		{"_pragma", "busy_timeout(" + strconv.Itoa(busyTimeout) + ")"},
		{"_pragma", "foreign_keys(1)"},
		{"_pragma", "query_only(1)"},
		{"_pragma", "temp_store(MEMORY)"},
	})
}

// fileURI returns path as an SQLite URI filename, escaped so that a path
// holding '?', '#' or '%' still names the file. A relative path is made
// absolute first: "file://dir/x.db" would name a host.
func fileURI(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return (&url.URL{Scheme: "file", Path: path}).String()
}

// encode encodes query parameters in the given order.
func encode(params [][2]string) string {
	var b []byte
	for i, p := range params {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, url.QueryEscape(p[0])...)
		b = append(b, '=')
		b = append(b, url.QueryEscape(p[1])...)
	}
	return string(b)
}

// sqliteConstraint is SQLite's primary result code for a constraint
// violation; extended codes (unique, primary key, foreign key) keep it in
// their low byte.
const sqliteConstraint = 19

// isConstraint reports whether err is an SQLite constraint violation, such as
// a duplicate primary key.
func isConstraint(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqliteConstraint
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// openPostgres opens the PostgreSQL store (issue: scale-out).
func (m *Main) openPostgres(ctx context.Context, log *slog.Logger) error {
	return fmt.Errorf("PostgreSQL support is not built yet")
}

// startLeases starts leasing partitions for this node.
func (m *Main) startLeases(ctx context.Context, log *slog.Logger) error { return nil }

// runMigrate applies the PostgreSQL migrations.
func runMigrate(ctx context.Context, args []string, out io.Writer, getenv func(string) string) error {
	return fmt.Errorf("PostgreSQL support is not built yet")
}

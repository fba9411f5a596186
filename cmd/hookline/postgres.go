package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/hookline/hookline/internal/secretbox"
	"github.com/hookline/hookline/postgres"
)

// openPostgres opens the PostgreSQL store, sealing secrets with box (nil:
// in plain); Open applies the migrations, safely when several nodes start
// at once, and checks and re-seals the secrets.
func (m *Main) openPostgres(ctx context.Context, box *secretbox.Box) error {
	s, err := postgres.Open(ctx, m.Config.DatabaseURL, postgres.WithSecretBox(box))
	if err != nil {
		return fmt.Errorf("open postgres: %w", secretKeyHint(err))
	}
	m.Store = s
	if m.Config.NodeID == "" {
		host, _ := os.Hostname()
		m.Config.NodeID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	return nil
}

// startLeases starts sharing the partitions with the other nodes. The closer
// it registers releases every lease at once, after the engine has stopped.
func (m *Main) startLeases(ctx context.Context, log *slog.Logger) error {
	l := m.Store.(*postgres.Store).NewLeaser(m.Config.NodeID, m.Config.LeaseTimeout, log)
	// A partition handed to a node that joined is released once the
	// attempts in flight there have ended (each within the delivery
	// timeout) and their outcomes are written, so that the new owner does
	// not send them again meanwhile.
	l.HandoverDelay = m.Config.DeliveryTimeout + time.Second
	l.Renewed = m.Engine.SetDispatchDeadline
	l.Lost = m.Engine.Revoke // abort at once what is in flight on partitions at risk
	lctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(lctx, m.Engine.SetOwned) }()
	m.closers = append(m.closers, func() error {
		cancel()
		return <-done
	})
	return nil
}

// runMigrate applies the PostgreSQL migrations and exits.
func runMigrate(ctx context.Context, args []string, out, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	url := fs.String("database-url", getenv("HOOKLINE_DATABASE_URL"), "postgres://… (HOOKLINE_DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return flagError("migrate", err, out, stderr, func(w io.Writer, name string) {
			fmt.Fprintf(w, "Usage: hookline migrate [flags]\n\nApplies the PostgreSQL schema migrations and exits.\n\nFlags:\n")
			printFlags(w, fs)
		})
	}
	if *url == "" {
		return fmt.Errorf("migrate: --database-url or HOOKLINE_DATABASE_URL is required")
	}
	// Migrating reads no secret, so it needs no --secret-key.
	s, err := postgres.Open(ctx, *url, postgres.SkipSecretCheck())
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer s.Close()
	fmt.Fprintln(out, "hookline: migrations applied")
	return nil
}

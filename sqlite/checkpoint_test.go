package sqlite

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookline/hookline"
)

// TestCheckpointerStartsTheWALOver writes far more than SQLite's automatic
// checkpoint lets a WAL hold, with the write connection's automatic
// checkpoints off, and checks that the WAL file stays a fraction of what
// was written (without the checkpointer it holds all of it), and that the
// events written are read back once the store is reopened.
func TestCheckpointerStartsTheWALOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hookline.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	data := json.RawMessage(`{"pad":"` + strings.Repeat("x", 64<<10) + `"}`)
	const events = 480 // 30 MiB, in 30 commits of 1 MiB
	ctx := context.Background()
	var ids []string
	for len(ids) < events {
		now := hookline.Now()
		var reqs []*hookline.IngestRequest
		for range 16 {
			ev := &hookline.Event{ID: hookline.NewID(hookline.EventPrefix, now), Tenant: "acme", Type: "t", Data: data, CreatedAt: now}
			reqs = append(reqs, &hookline.IngestRequest{Events: []*hookline.Event{ev}})
			ids = append(ids, ev.ID)
		}
		if err := s.Ingest(ctx, reqs, now); err != nil {
			t.Fatal(err)
		}
		// Give the checkpointer a round now and then, as a server's
		// steady load does: wait for the next one to succeed.
		if len(ids)%(events/6) == 0 {
			rounds, _ := s.ckpt.stats()
			waitFor(t, "a checkpoint round", func() bool {
				n, err := s.ckpt.stats()
				return n > rounds && err == nil
			})
		}
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	written := int64(events * len(data))
	if fi.Size() > written/3 {
		t.Errorf("WAL is %d bytes after %d written: not started over", fi.Size(), written)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range []string{ids[0], ids[len(ids)/2], ids[len(ids)-1]} {
		if _, err := s.FindEvent(ctx, id); err != nil {
			t.Errorf("event %s: %v", id, err)
		}
	}
	if st, err := s.Stats(ctx); err != nil || st.Events != events {
		t.Errorf("stats: %+v, %v; want %d events", st, err, events)
	}
}

// TestCloseTwice checks that a second Close does not panic (the API's
// tests close a store their server closed already).
func TestCloseTwice(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "hookline.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_ = s.Close() // the database handles report they are closed; the checkpointer must not panic
}

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
)

// dataFiles are the files Hookline keeps in the data dir: the SQLite
// database with its write-ahead log and shared-memory index, the generated
// API key, the lock and the portal secret of the dashboard. Each is made 0600.
var dataFiles = []string{"hookline.db", "hookline.db-wal", "hookline.db-shm", "api-key", "lock", "portal-secret"}

// secureDataDir makes dir, which holds the API key and (with SQLite) every
// endpoint's signing secret, private to its owner: the dir 0700, the files
// in it 0600, and (for SQLite) hookline.db created 0600 if missing, so that SQLite
// creates its -wal and -shm files with the same mode, whatever the umask. A
// dir open to other users is changed, with a warning, when it is this
// user's own; a dir shared with others (sticky like /tmp, or owned by
// someone else) is refused, saying why.
func secureDataDir(dir string, sqlite bool, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("data dir %s is not a directory", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		st, _ := fi.Sys().(*syscall.Stat_t)
		if fi.Mode()&fs.ModeSticky != 0 || st == nil || int(st.Uid) != os.Geteuid() {
			return fmt.Errorf("data dir %s is open to other users (mode %v) and is shared or not ours to change: it would hold the API key and every signing secret; use a directory of its own, such as %s",
				dir, perm, filepath.Join(dir, "hookline"))
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("data dir %s is open to other users (mode %v), and making it 0700 failed: %w", dir, perm, err)
		}
		log.Warn("data dir was open to other users; it holds the API key and the signing secrets, so it is now 0700",
			"dir", dir, "was", perm.String())
	}
	// Create the database file private before SQLite does: its WAL and
	// index files take the database file's mode.
	if sqlite {
		f, err := os.OpenFile(filepath.Join(dir, "hookline.db"), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		f.Close()
	}
	for _, name := range dataFiles {
		path := filepath.Join(dir, name)
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 && fi.Mode().IsRegular() {
			if err := os.Chmod(path, 0o600); err != nil {
				return fmt.Errorf("data dir: make %s private: %w", name, err)
			}
			log.Warn("a data file was open to other users; it is now 0600", "file", path, "was", fi.Mode().Perm().String())
		}
	}
	return nil
}

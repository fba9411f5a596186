package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mattn/go-isatty"
)

// minAPIKey is the shortest API key accepted, in characters: 32 random
// characters of even the smallest alphabet in use (hex) are 128 bits.
const minAPIKey = 32

// maxAPIKeyFile bounds what is read of an --api-key-file (or a
// --secret-key-file).
const maxAPIKeyFile = 4 << 10

// checkAPIKey refuses an API key that can be guessed: shorter than
// minAPIKey, not printable ASCII, or trivially patterned (few distinct
// characters, a short pattern repeated, a run such as abcdef…). from names
// where the key came from; the key itself is never in the error.
func checkAPIKey(key, from string) error {
	why := ""
	switch {
	case len(key) < minAPIKey:
		why = fmt.Sprintf("it is %d characters long; at least %d are needed", len(key), minAPIKey)
	case !printableASCII(key):
		why = "it must be printable ASCII without spaces (it is sent in an HTTP header)"
	case repetitive(key):
		why = "it is too repetitive to be random (few different characters, a repeated pattern or a run such as abcd…)"
	}
	if why == "" {
		return nil
	}
	return fmt.Errorf("refusing the API key from %s: %s. The API key guards every endpoint's signing secret and lets its holder send events as you, "+
		"so it must be at least %d random characters: make one with `openssl rand -base64 32`, or leave --api-key and --api-key-file unset to have one generated",
		from, why, minAPIKey)
}

func printableASCII(s string) bool {
	for i := range len(s) {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// repetitive reports whether key is patterned: fewer than 8 distinct
// characters, a repetition of a shorter string, or more than half of its
// steps from one character to the next the same (aaaa…, abcd…, 0246…).
func repetitive(key string) bool {
	var seen [256]bool
	distinct := 0
	for i := range len(key) {
		if !seen[key[i]] {
			seen[key[i]] = true
			distinct++
		}
	}
	if distinct < 8 {
		return true
	}
	for p := 1; p <= len(key)/2; p++ {
		if key[p:] == key[:len(key)-p] {
			return true
		}
	}
	var steps [256]int
	for i := 1; i < len(key); i++ {
		if d := key[i] - key[i-1]; steps[d]+1 > (len(key)-1)/2 {
			return true
		} else {
			steps[d]++
		}
	}
	return false
}

// apiKey returns the API key: --api-key, the contents of --api-key-file,
// or the key saved in the data dir, generated on first start. Each is
// checked with checkAPIKey.
func (m *Main) apiKey() (string, error) {
	c := &m.Config
	switch {
	case c.APIKey != "" && c.APIKeyFile != "":
		return "", errors.New("--api-key and --api-key-file (or HOOKLINE_API_KEY and HOOKLINE_API_KEY_FILE) are both set: give one, not both")
	case c.APIKey != "":
		return c.APIKey, checkAPIKey(c.APIKey, "--api-key (or HOOKLINE_API_KEY)")
	case c.APIKeyFile != "":
		key, err := readKeyFile(c.APIKeyFile)
		if err != nil {
			return "", fmt.Errorf("--api-key-file: %w", err)
		}
		return key, checkAPIKey(key, "--api-key-file "+c.APIKeyFile)
	}
	return loadOrCreateKey(c.DataDir, m.Stdout, c.PrintAPIKey)
}

// readKeyFile reads a key from path: its contents without surrounding
// white space (a trailing newline).
func readKeyFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxAPIKeyFile+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	} else if len(b) > maxAPIKeyFile {
		return "", fmt.Errorf("%s is larger than %d bytes: not a key", path, maxAPIKeyFile)
	}
	return strings.TrimSpace(string(b)), nil
}

// loadOrCreateKey returns the API key saved in the data dir, making one on
// first start. The new key is printed to out only when out is a terminal or
// print is set: output that is not a terminal is often kept, in container
// logs; the message says where the key is saved either way.
func loadOrCreateKey(dir string, out io.Writer, print bool) (string, error) {
	path := filepath.Join(dir, "api-key")
	if key, err := readKeyFile(path); err == nil && key != "" {
		return key, checkAPIKey(key, path)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read api key: %w", err)
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	key := "hk_" + base64.RawURLEncoding.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save api key: %w", err)
	}
	if print || isTerminal(out) {
		fmt.Fprintf(out, "Generated an API key, saved in %s (readable by this user only); shown only this once:\n\n    %s\n\n", path, key)
	} else {
		fmt.Fprintf(out, "Generated an API key, saved in %s (readable by this user only). It is not printed, since standard output is not a terminal "+
			"and may be kept in logs: read it from that file, or start with --print-api-key to print it.\n", path)
	}
	return key, nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

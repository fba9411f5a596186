package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckAPIKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		key  string
		want string // "" when accepted, else part of the error
	}{
		{key: "hk_" + strings.Repeat("x", 1), want: "at least 32"},
		{key: "x", want: "at least 32"},
		{key: "dev-key", want: "at least 32"},
		{key: strings.Repeat("k", 31), want: "at least 32"},
		{key: strings.Repeat("a", 40), want: "repetitive"},
		{key: strings.Repeat("abc", 14), want: "repetitive"},
		{key: strings.Repeat("password", 5), want: "repetitive"},
		{key: "abcdefghijklmnopqrstuvwxyz0123456789", want: "repetitive"},
		{key: "0123456789012345678901234567890123", want: "repetitive"},
		{key: "hk_test key with spaces 0123456789abcdef", want: "printable ASCII"},
		{key: "hk_tëst-0123456789abcdefghijklmnopqrstuvwxyz", want: "printable ASCII"},
		{key: "hk_FS3l2pJ-8yD0fWk9QhZrT4uXcV7bN1mA6eGo5iLsKj"}, // a generated one
		{key: "3q2+7w0fL9aP/x1ZbV6mK4nR8tY5cE2hJ0gU7sWdQ="},    // openssl rand -base64 32
		{key: "6c1f0e1b9d2a47c3b85e4f60a7d91c2e"},              // 16 random bytes in hex
		{key: testAPIKey},
	} {
		err := checkAPIKey(tt.key, "--api-key")
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q refused: %v", tt.key, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q: %v, want an error with %q", tt.key, err, tt.want)
		case err != nil && (strings.Contains(err.Error(), tt.key) || !strings.Contains(err.Error(), "--api-key")):
			t.Errorf("%q: the error %q shows the key or does not name where it came from", tt.key, err)
		}
	}
}

// get sends GET path to m with key and returns the status.
func get(t *testing.T, m *Main, path, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+m.Addr()+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestAPIKeySources(t *testing.T) {
	t.Parallel()
	t.Run("ShortKeyRefused", func(t *testing.T) {
		t.Parallel()
		m := NewMain()
		m.Stdout, m.Stderr = io.Discard, io.Discard
		m.Config.Addr, m.Config.DataDir, m.Config.APIKey = "127.0.0.1:0", t.TempDir(), "x"
		err := m.Run(context.Background())
		if err == nil {
			m.Close()
			t.Fatal("served with a one-character API key")
		}
		if !strings.Contains(err.Error(), "at least 32") || !strings.Contains(err.Error(), "signing secret") {
			t.Fatalf("error %q does not say why", err)
		}
	})
	t.Run("GeneratedNotPrinted", func(t *testing.T) {
		t.Parallel()
		m, stdout, stderr := startMain(t, func(m *Main) { m.Config.APIKey = "" })
		path := filepath.Join(m.Config.DataDir, "api-key")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		key := strings.TrimSpace(string(b))
		if checkAPIKey(key, "generated") != nil {
			t.Fatalf("generated key %q is refused by the check", key)
		}
		if out := stdout.String() + stderr.String(); strings.Contains(out, key) || !strings.Contains(out, path) || !strings.Contains(out, "--print-api-key") {
			t.Fatalf("output shows the key, or not where it is saved:\n%s", out)
		}
		if code := get(t, m, "/v1/stats", key); code != 200 {
			t.Fatalf("with the saved key: %d", code)
		}
	})
	t.Run("GeneratedPrinted", func(t *testing.T) {
		t.Parallel()
		m, stdout, _ := startMain(t, func(m *Main) { m.Config.APIKey, m.Config.PrintAPIKey = "", true })
		b, _ := os.ReadFile(filepath.Join(m.Config.DataDir, "api-key"))
		if !strings.Contains(stdout.String(), strings.TrimSpace(string(b))) {
			t.Fatalf("--print-api-key did not print it:\n%s", stdout)
		}
	})
	t.Run("SavedKeyChecked", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "api-key"), []byte("short\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		m := NewMain()
		m.Stdout, m.Stderr = io.Discard, io.Discard
		m.Config.Addr, m.Config.DataDir = "127.0.0.1:0", dir
		err := m.Run(context.Background())
		if err == nil {
			m.Close()
			t.Fatal("served with a short saved key")
		}
		if !strings.Contains(err.Error(), filepath.Join(dir, "api-key")) {
			t.Fatalf("error %q does not name the file", err)
		}
	})
	t.Run("KeyFile", func(t *testing.T) {
		t.Parallel()
		file := filepath.Join(t.TempDir(), "key")
		if err := os.WriteFile(file, []byte(testAPIKey+"\r\n"), 0o400); err != nil {
			t.Fatal(err)
		}
		m, _, _ := startMain(t, func(m *Main) { m.Config.APIKey, m.Config.APIKeyFile = "", file })
		if code := get(t, m, "/v1/stats", testAPIKey); code != 200 {
			t.Fatalf("with the key of the file: %d", code)
		}
		if _, err := os.Stat(filepath.Join(m.Config.DataDir, "api-key")); err == nil {
			t.Fatal("a key was generated although a key file was given")
		}
	})
	t.Run("KeyFileErrors", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		short := filepath.Join(dir, "short")
		_ = os.WriteFile(short, []byte("abc\n"), 0o600)
		for _, tt := range []struct {
			key, file, want string
		}{
			{"", filepath.Join(dir, "missing"), "--api-key-file"},
			{"", short, "at least 32"},
			{testAPIKey, short, "not both"},
		} {
			m := NewMain()
			m.Stdout, m.Stderr = io.Discard, io.Discard
			m.Config.Addr, m.Config.DataDir, m.Config.APIKey, m.Config.APIKeyFile = "127.0.0.1:0", t.TempDir(), tt.key, tt.file
			err := m.Run(context.Background())
			if err == nil {
				m.Close()
				t.Fatalf("served with key %q and file %s", tt.key, tt.file)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want %q", err, tt.want)
			}
		}
	})
	t.Run("Flags", func(t *testing.T) {
		t.Parallel()
		var c Config
		env := map[string]string{"HOOKLINE_API_KEY_FILE": "/run/secrets/key", "HOOKLINE_PRINT_API_KEY": "true"}
		if err := c.parse("serve", nil, func(k string) string { return env[k] }); err != nil {
			t.Fatal(err)
		}
		if c.APIKeyFile != "/run/secrets/key" || !c.PrintAPIKey {
			t.Fatalf("from the environment: %+v", c)
		}
		c = Config{}
		if err := c.parse("serve", []string{"--print-api-key", "--api-key-file", "k"}, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		if c.APIKeyFile != "k" || !c.PrintAPIKey {
			t.Fatalf("from flags: %+v", c)
		}
	})
}

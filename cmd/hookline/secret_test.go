package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// newKey returns a new --secret-key.
func newKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// failServe runs `hookline serve` expecting it to exit with an error at
// start, and returns what it printed.
func failServe(t *testing.T, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "HOOKLINE_API_KEY=hk_secret-test-4Rt8Wq2Zx6Cv1Bn5Ml9Kp3Jh7")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("hookline serve %v did not exit:\n%s", args, out)
	}
	if err == nil {
		t.Fatalf("hookline serve %v exited 0, want an error:\n%s", args, out)
	}
	return string(out)
}

// TestSecretKey runs the binary with --secret-key: the database file holds
// no secret in plain, deliveries are signed with the real secret, and the
// key comes from a flag, a file or the environment. A missing or wrong key
// stops it at start with the key ID and the flags to set, and no key
// material is ever printed.
func TestSecretKey(t *testing.T) {
	dir := t.TempDir()
	key1, key2 := newKey(), newKey()
	rc := newSink(t)
	common := []string{"--data-dir", dir, "--allow-private-networks", "--log-level", "debug"}

	// Plain at first, from before the key.
	p := serve(t, nil, common...)
	var ep endpointJSON
	if code := p.do(t, "POST", "/v1/endpoints", map[string]any{"url": rc.URL}, &ep); code != 201 {
		t.Fatalf("create endpoint: %d", code)
	}
	p.stop(t)
	body := ep.Secret[len("whsec_"):]
	db := filepath.Join(dir, "hookline.db")
	if b, _ := os.ReadFile(db); !bytes.Contains(b, []byte(body)) {
		t.Fatal("the plain database does not hold the secret: the search below proves nothing")
	}

	// With a key: re-sealed at start; the file no longer holds it, and a
	// delivery is signed with it.
	p = serve(t, nil, append(common, "--secret-key", key1)...)
	if !strings.Contains(p.stderr.String(), "resealed=1") {
		t.Errorf("the start log does not say one endpoint was re-sealed:\n%s", p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "--secret-key or --secret-key-previous on the command line") {
		t.Errorf("no warning for a key on the command line:\n%s", p.stderr)
	}
	var ev eventResult
	p.do(t, "POST", "/v1/events", map[string]any{"type": "a", "data": 1}, &ev)
	waitFor(t, 10*time.Second, "delivery", func() bool { return rc.count(ev.ID) == 1 })
	wh, _ := standardwebhooks.NewWebhook(ep.Secret)
	rc.mu.Lock()
	err := wh.Verify(rc.bodies[ev.ID], rc.hdrs[ev.ID])
	rc.mu.Unlock()
	if err != nil {
		t.Fatalf("a delivery from the sealed store: %v", err)
	}
	var sec struct{ Secret string }
	if p.do(t, "GET", "/v1/endpoints/"+ep.ID+"/secret", nil, &sec); sec.Secret != ep.Secret {
		t.Fatalf("GET secret = %q, want %q", sec.Secret, ep.Secret)
	}
	p.stop(t)
	for _, f := range []string{db, db + "-wal"} {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(body)) {
			t.Fatalf("%s holds the secret in plain", f)
		}
	}

	// Without the key, or with another: a clear error at start.
	for _, args := range [][]string{common, append(common, "--secret-key", key2)} {
		out := failServe(t, nil, args...)
		if !strings.Contains(out, "--secret-key") || !strings.Contains(out, "key ID") {
			t.Errorf("start with %v: %s; want the key ID and the flags to set", args[len(common):], out)
		}
		if strings.Contains(out, key1) || strings.Contains(out, key2) {
			t.Errorf("the error shows a key:\n%s", out)
		}
	}

	// The key from a file, then from the environment; a new key with the
	// old one as previous re-seals; then the old key can go.
	file := filepath.Join(t.TempDir(), "secret-key")
	if err := os.WriteFile(file, []byte(key1+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	serve(t, nil, append(common, "--secret-key-file", file)...).stop(t)
	p = serve(t, []string{"HOOKLINE_SECRET_KEY=" + key2, "HOOKLINE_SECRET_KEY_PREVIOUS=" + newKey() + "," + key1}, common...)
	if !strings.Contains(p.stderr.String(), "resealed=1") {
		t.Errorf("rotating the key re-sealed nothing:\n%s", p.stderr)
	}
	if strings.Contains(p.stderr.String(), "--secret-key or --secret-key-previous on the command line") {
		t.Errorf("a warning for keys given in the environment:\n%s", p.stderr)
	}
	p.stop(t)
	p = serve(t, nil, append(common, "--secret-key", key2)...)
	if p.do(t, "GET", "/v1/endpoints/"+ep.ID+"/secret", nil, &sec); sec.Secret != ep.Secret {
		t.Fatalf("GET secret after the key rotation = %q", sec.Secret)
	}
	p.stop(t)
	for _, out := range []string{p.stderr.String()} {
		if strings.Contains(out, key1) || strings.Contains(out, key2) || strings.Contains(out, body) {
			t.Errorf("the log shows a key or a secret:\n%s", out)
		}
	}

	// Keys that do not parse, and both a key and a key file.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--secret-key", "hunter2-hunter2"}, "--secret-key: "},
		{[]string{"--secret-key", base64.StdEncoding.EncodeToString([]byte("sixteen byte key"))}, "--secret-key: "},
		{[]string{"--secret-key", key2, "--secret-key-previous", key1 + ",hunter2-hunter2"}, "--secret-key-previous: key 2: "},
		{[]string{"--secret-key", key2, "--secret-key-file", file}, "--secret-key and --secret-key-file"},
		{[]string{"--secret-key-file", filepath.Join(dir, "hookline.db")}, "--secret-key-file: "},
		{[]string{"--secret-key-file", filepath.Join(dir, "missing")}, "--secret-key-file: "},
	} {
		out := failServe(t, nil, append(common, tt.args...)...)
		if !strings.Contains(out, tt.want) {
			t.Errorf("serve %v: %s; want %q", tt.args, out, tt.want)
		}
		if strings.Contains(out, "hunter2") || strings.Contains(out, key1) || strings.Contains(out, key2) {
			t.Errorf("serve %v: the error shows the key:\n%s", tt.args, out)
		}
	}
}

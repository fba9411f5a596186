package main_test

import (
	"bufio"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDashboard checks how serve wires the dashboard: / asks to sign in,
// the portal secret is saved 0600 in the data dir, portal links use
// --public-url, and SIGTERM ends promptly with a live stream open.
func TestDashboard(t *testing.T) {
	dir := t.TempDir()
	p := serve(t, nil, "--data-dir", dir, "--public-url", "https://hooks.example.com/")

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(p.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 303 || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("GET /: %d %q", res.StatusCode, res.Header.Get("Location"))
	}

	fi, err := os.Stat(filepath.Join(dir, "portal-secret"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("portal secret: %v %v", fi, err)
	}
	var link struct{ URL string }
	if code := p.do(t, "POST", "/v1/portal-links", map[string]any{"tenant": "acme"}, &link); code != 201 ||
		!strings.HasPrefix(link.URL, "https://hooks.example.com/portal?token=") {
		t.Fatalf("portal link: %d %q", code, link.URL)
	}

	// Sign in and open a live stream.
	res, err = c.Get(p.url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in %s", page)
	}
	res, err = c.PostForm(p.url+"/login", url.Values{"csrf_token": {string(m[1])}, "api_key": {p.key}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 303 {
		t.Fatalf("sign in: %d", res.StatusCode)
	}
	res, err = c.Get(p.url + "/live")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "retry:") {
		t.Fatalf("stream: %q %v", line, err)
	}
	start := time.Now()
	p.stop(t)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("SIGTERM took %v with a live stream open", d)
	}
}

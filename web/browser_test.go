package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium returns the path of Debian's chromium. Without one the test is
// skipped, or fails when HOOKLINE_REQUIRE_BROWSER=1 (as make test sets).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("HOOKLINE_REQUIRE_BROWSER") == "1" {
		t.Fatal("HOOKLINE_REQUIRE_BROWSER=1 but there is no chromium; install it: apt-get install -y chromium")
	}
	t.Skip("no chromium (apt-get install -y chromium); set HOOKLINE_REQUIRE_BROWSER=1 to fail instead")
	return ""
}

// browser starts a headless chromium with a fresh profile and returns a tab.
// At the end it closes the browser gracefully and removes the profile once
// chromium's helper processes, which outlive the browser for a moment,
// stopped writing to it.
func browser(t *testing.T) context.Context {
	t.Helper()
	profile, err := os.MkdirTemp("", "hookline-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := os.RemoveAll(profile)
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Logf("chromium profile %s left behind: %v", profile, err)
				return
			}
			time.Sleep(50 * time.Millisecond) // polling with a deadline, not synchronisation
		}
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx) // graceful: the browser closes its profile
		cancelT()
		cancelC()
		cancelA()
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// shots is where screenshots go: $HOOKLINE_SCREENSHOT_DIR, or a temp dir.
func shots(t *testing.T) string {
	dir := os.Getenv("HOOKLINE_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// run runs chromedp actions, failing the test with what was being done.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	step, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Run(step, actions...); err != nil {
		var loc, body string
		_ = chromedp.Run(context.WithoutCancel(ctx), chromedp.Location(&loc), chromedp.Text("body", &body, chromedp.ByQuery))
		t.Fatalf("%s: %v (at %s)\n%.2000s", what, err, loc, body)
	}
}

// screenshot saves a full-page PNG of the tab as name.png in dir.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	var png []byte
	run(t, ctx, "screenshot "+name, chromedp.FullScreenshot(&png, 100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowser drives the dashboard in a real headless chromium: sign in,
// create an endpoint, see a delivery appear live without a reload, open its
// attempts, recover a dead letter, and open a portal link that shows one
// tenant only.
func TestBrowser(t *testing.T) {
	s := setupStack(t)
	ctx := browser(t)
	dir := shots(t)

	// Sign in.
	run(t, ctx, "sign in",
		chromedp.Navigate(s.srv.URL+"/"),
		chromedp.WaitVisible("#api_key", chromedp.ByID),
	)
	screenshot(t, ctx, dir, "login")
	// Keyboard: the key field has focus; Tab reaches the button, which
	// shows it has focus.
	var start, focused, outline string
	run(t, ctx, "keyboard",
		chromedp.Evaluate(`document.activeElement.id`, &start),
		chromedp.KeyEvent("\t"),
		chromedp.Evaluate(`document.activeElement.textContent`, &focused),
		chromedp.Evaluate(`getComputedStyle(document.activeElement).outlineStyle`, &outline),
		chromedp.Evaluate(`document.getElementById("api_key").focus()`, nil),
	)
	if start != "api_key" || focused != "Sign in" || outline == "none" {
		t.Fatalf("focus on %q, then Tab to %q with outline %q; want api_key, then Sign in with a visible outline", start, focused, outline)
	}
	run(t, ctx, "submit key",
		chromedp.SendKeys("#api_key", operatorKey, chromedp.ByID),
		chromedp.Submit("#api_key", chromedp.ByID),
		chromedp.WaitVisible(`[data-chart="rate"][data-ready="1"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//span[@id="live-status"][text()="Live"]`),
	)

	// Create an endpoint of tenant acme through the form.
	var secret string
	run(t, ctx, "create endpoint",
		chromedp.Navigate(s.srv.URL+"/endpoints"),
		chromedp.Click("#new-endpoint summary", chromedp.ByQuery),
		chromedp.SendKeys("#n-url", s.receiver.URL+"/hook", chromedp.ByID),
		chromedp.SendKeys("#n-types", "order.*, invoice.*", chromedp.ByID),
		chromedp.SendKeys("#n-desc", "Acme orders", chromedp.ByID),
		chromedp.SendKeys("#n-tenant", "acme", chromedp.ByID),
		chromedp.Submit("#n-url", chromedp.ByID),
		chromedp.WaitVisible("#secret-value", chromedp.ByID),
		chromedp.Value("#secret-value", &secret, chromedp.ByID),
	)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret shown after create: %q", secret)
	}
	var eps apiList[apiEndpoint]
	s.call(t, "GET", "/v1/endpoints?tenant=acme", nil, &eps)
	if len(eps.Data) != 1 {
		t.Fatalf("acme endpoints: %+v", eps)
	}
	acme := eps.Data[0]
	screenshot(t, ctx, dir, "endpoint")

	// The deliveries page, live: an event sent now appears without a reload.
	run(t, ctx, "open deliveries",
		chromedp.Navigate(s.srv.URL+"/deliveries"),
		chromedp.WaitVisible(`//span[@id="live-status"][text()="Live"]`),
		chromedp.Evaluate(`window.__noReload = 1`, nil),
	)
	var ev struct {
		ID string `json:"id"`
	}
	if code := s.call(t, "POST", "/v1/events", map[string]any{"type": "order.created", "tenant": "acme", "data": map[string]any{"order": 42, "items": []string{"a", "b"}}}, &ev); code != 202 {
		t.Fatalf("send event: %d", code)
	}
	var marker int
	run(t, ctx, "delivery appears live",
		chromedp.WaitVisible(`//td/span[contains(@class,"status-delivered")]`),
		chromedp.Evaluate(`window.__noReload || 0`, &marker),
	)
	if marker != 1 {
		t.Fatal("the page was reloaded to show the delivery")
	}
	screenshot(t, ctx, dir, "deliveries")

	// While the person uses the table, an update waits; it lands when they
	// stop.
	run(t, ctx, "focus the table",
		chromedp.Evaluate(`document.querySelector("#live-region tbody a").focus()`, nil),
	)
	s.call(t, "POST", "/v1/events", map[string]any{"type": "order.paused", "tenant": "acme", "data": 1}, nil)
	var text string
	run(t, ctx, "paused while focused",
		chromedp.WaitVisible(`//span[@id="live-status"][text()="Paused while you use the table"]`),
		chromedp.Text("#live-region", &text, chromedp.ByQuery),
	)
	if strings.Contains(text, "order.paused") {
		t.Fatal("the table was refreshed while focus was in it")
	}
	run(t, ctx, "applied when the person stops",
		chromedp.Evaluate(`document.activeElement.blur()`, nil),
		chromedp.WaitVisible(`//td[text()="order.paused"]`),
		chromedp.Evaluate(`window.__noReload || 0`, &marker),
	)
	if marker != 1 {
		t.Fatal("the page was reloaded")
	}

	// Its attempts.
	run(t, ctx, "open attempts",
		chromedp.Click(`#live-region tbody tr td a`, chromedp.ByQuery),
		chromedp.WaitVisible(`//ol[contains(@class,"timeline")]/li[contains(., "Attempt 1")][contains(., "status 200")]`),
	)
	screenshot(t, ctx, dir, "delivery")

	// The event: its payload and where it went.
	run(t, ctx, "open event",
		chromedp.Navigate(s.srv.URL+"/events/"+ev.ID),
		chromedp.WaitVisible(`//pre[contains(@class,"payload")][contains(., '"order": 42')]`),
	)
	screenshot(t, ctx, dir, "event")

	// A dead letter, recovered from the endpoint's page.
	s.receiver.setStatus(500)
	var dead struct {
		ID string `json:"id"`
	}
	s.call(t, "POST", "/v1/events", map[string]any{"type": "invoice.paid", "tenant": "acme", "data": 1}, &dead)
	waitFor(t, 10*time.Second, "dead letter", func() bool {
		var l apiList[apiDelivery]
		s.call(t, "GET", "/v1/deliveries?status=failed&event_id="+dead.ID, nil, &l)
		return len(l.Data) == 1
	})
	s.receiver.setStatus(200)
	run(t, ctx, "recover",
		chromedp.Navigate(s.srv.URL+"/endpoints/"+acme.ID),
		chromedp.WaitVisible(`//button[contains(., "Recover dead letters (1)")]`),
		chromedp.Click(`//button[contains(., "Recover dead letters")]`),
		chromedp.WaitVisible(`//p[contains(@class,"flash")][contains(., "1 dead letter sent again")]`),
	)
	waitFor(t, 10*time.Second, "recovered delivery", func() bool {
		var l apiList[apiDelivery]
		s.call(t, "GET", "/v1/deliveries?event_id="+dead.ID, nil, &l)
		return len(l.Data) == 1 && l.Data[0].Status == "delivered"
	})
	run(t, ctx, "overview", chromedp.Navigate(s.srv.URL+"/"),
		chromedp.WaitVisible(`[data-chart="rate"][data-ready="1"]`, chromedp.ByQuery))
	screenshot(t, ctx, dir, "overview")

	// The portal of acme shows acme's endpoint and not globex's.
	var globex apiEndpoint
	s.call(t, "POST", "/v1/endpoints", map[string]any{"url": "https://globex.example.com/hook", "tenant": "globex"}, &globex)
	var link struct {
		URL string `json:"url"`
	}
	if code := s.call(t, "POST", "/v1/portal-links", map[string]any{"tenant": "acme", "expires_in": "1h"}, &link); code != 201 {
		t.Fatalf("portal link: %d", code)
	}
	var body string
	run(t, ctx, "open portal",
		chromedp.Navigate(link.URL),
		chromedp.WaitVisible(`//h1[text()="Endpoints"]`),
		chromedp.WaitVisible(`//a[contains(., "/hook")]`),
		chromedp.Text("body", &body, chromedp.ByQuery),
	)
	if !strings.Contains(body, acme.ID) || strings.Contains(body, globex.ID) || strings.Contains(body, "globex") || strings.Contains(body, "Overview") {
		t.Fatalf("portal of acme shows:\n%s", body)
	}
	screenshot(t, ctx, dir, "portal")
	run(t, ctx, "portal deliveries",
		chromedp.Navigate(s.srv.URL+"/portal/deliveries"),
		chromedp.WaitVisible(`//td/span[contains(@class,"status-delivered")]`),
		chromedp.Text("body", &body, chromedp.ByQuery),
	)
	if strings.Contains(body, globex.ID) {
		t.Fatalf("portal deliveries show globex:\n%s", body)
	}
	screenshot(t, ctx, dir, "portal-deliveries")
	// Another tenant's endpoint by editing the URL: not found.
	run(t, ctx, "portal: another tenant's endpoint",
		chromedp.Navigate(s.srv.URL+"/portal/endpoints/"+globex.ID),
		chromedp.WaitVisible(`//h1[text()="Not found"]`),
	)
}

// TestBrowserCatalogAndBulkRetry drives the issue 15 pages in a real
// headless chromium: create an event type in the catalog, subscribe a new
// endpoint to it with its checkbox, and retry its dead letters from the
// Deliveries page, seeing how many were requeued.
func TestBrowserCatalogAndBulkRetry(t *testing.T) {
	s := setupStack(t)
	ctx := browser(t)
	dir := shots(t)
	run(t, ctx, "sign in",
		chromedp.Navigate(s.srv.URL+"/login"),
		chromedp.WaitVisible("#api_key", chromedp.ByID),
		chromedp.SendKeys("#api_key", operatorKey, chromedp.ByID),
		chromedp.Submit("#api_key", chromedp.ByID),
		chromedp.WaitVisible(`//h1[text()="Overview"]`),
	)

	// The catalog: a new type with a schema.
	run(t, ctx, "create event type",
		chromedp.Navigate(s.srv.URL+"/event-types"),
		chromedp.Click("#new-event-type summary", chromedp.ByQuery),
		chromedp.SendKeys("#t-name", "invoice.paid", chromedp.ByID),
		chromedp.SendKeys("#t-desc", "An invoice was paid", chromedp.ByID),
		chromedp.SendKeys("#t-schema", `{"type": "object", "required": ["id"]}`, chromedp.ByID),
		chromedp.Submit("#t-name", chromedp.ByID),
		chromedp.WaitVisible(`//p[contains(@class,"flash")][contains(., "Event type invoice.paid created.")]`),
		chromedp.WaitVisible(`//td[contains(., "An invoice was paid")]`),
	)
	screenshot(t, ctx, dir, "event-types")

	// The endpoint form offers it as a checkbox.
	var secret string
	run(t, ctx, "subscribe with the checkbox",
		chromedp.Navigate(s.srv.URL+"/endpoints"),
		chromedp.Click("#new-endpoint summary", chromedp.ByQuery),
		chromedp.WaitVisible(`input[name="catalog_type"][value="invoice.paid"]`, chromedp.ByQuery),
		chromedp.Click(`input[name="catalog_type"][value="invoice.paid"]`, chromedp.ByQuery),
		chromedp.SendKeys("#n-url", s.receiver.URL+"/hook", chromedp.ByID),
		chromedp.SendKeys("#n-tenant", "acme", chromedp.ByID),
		chromedp.Submit("#n-url", chromedp.ByID),
		chromedp.WaitVisible("#secret-value", chromedp.ByID),
		chromedp.Value("#secret-value", &secret, chromedp.ByID),
		chromedp.Click(`//summary[text()="Edit"]`),
		chromedp.WaitVisible(`input[name="catalog_type"][value="invoice.paid"]:checked`, chromedp.ByQuery),
	)
	screenshot(t, ctx, dir, "endpoint-catalog")
	var eps apiList[struct {
		ID         string   `json:"id"`
		EventTypes []string `json:"event_types"`
	}]
	s.call(t, "GET", "/v1/endpoints?tenant=acme", nil, &eps)
	if len(eps.Data) != 1 || strings.Join(eps.Data[0].EventTypes, ",") != "invoice.paid" || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("endpoints of acme: %+v (secret %q)", eps.Data, secret)
	}

	// Two dead letters, retried in bulk.
	s.deadLetter(t, "acme", "invoice.paid")
	s.deadLetter(t, "acme", "invoice.paid")
	run(t, ctx, "bulk retry",
		chromedp.Navigate(s.srv.URL+"/deliveries?status=failed"),
		chromedp.WaitVisible(`//p[@id="dead-count"][contains(., "2 dead letters match")]`),
		chromedp.Click(`//button[text()="Retry all 2…"]`),
		chromedp.WaitVisible(`//p[contains(@class,"question")][contains(., "Retry all 2 dead letters?")]`),
		chromedp.Click(`//button[text()="Retry all 2 dead letters"]`),
		chromedp.WaitVisible(`//p[contains(@class,"flash")][contains(., "Requeued 2 dead letters.")]`),
	)
	screenshot(t, ctx, dir, "bulk-retry")
	waitFor(t, 10*time.Second, "the requeued dead letters delivered", func() bool {
		var l apiList[apiDelivery]
		s.call(t, "GET", "/v1/deliveries?status=delivered&endpoint_id="+eps.Data[0].ID, nil, &l)
		return len(l.Data) == 2
	})
}

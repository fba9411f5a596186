package storetest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

var endpointTests = []test{
	{"CreateFind", testEndpointCreateFind},
	{"CreateDuplicateID", testEndpointCreateDuplicateID},
	{"FindMissing", testEndpointFindMissing},
	{"UpdateEachField", testEndpointUpdateEachField},
	{"UpdateMissing", testEndpointUpdateMissing},
	{"UpdateChangesFanOut", testEndpointUpdateChangesFanOut},
	{"FilterFanOut", testEndpointFilterFanOut},
	{"RequestOptions", testEndpointRequestOptions},
	{"RotateSecret", testEndpointRotateSecret},
	{"RotateSecretTasks", testEndpointRotateSecretTasks},
	{"Versions", testEndpointVersions},
	{"Changes", testEndpointChanges},
	{"Delete", testEndpointDelete},
	{"DeleteMissing", testEndpointDeleteMissing},
	{"PurgeBatches", testEndpointPurgeBatches},
	{"List", testEndpointList},
	{"ListPages", testEndpointListPages},
}

func testEndpointCreateFind(t *testing.T, b *bundle) {
	for _, ep := range []*hookline.Endpoint{
		b.newEndpoint("acme", "invoice.*", "user.created"),
		b.newEndpoint(""),                    // no types: every type
		b.newEndpoint("acme", []string{}...), // empty types
		func() *hookline.Endpoint { ep := b.newEndpoint("acme", "*"); ep.Disabled = true; return ep }(),
		func() *hookline.Endpoint {
			ep := b.newEndpoint("acme")
			ep.PreviousSecret, ep.PreviousSecretExpiresAt = "whsec_cHJldmlvdXMgc2VjcmV0IHByZXZpb3Vz", b.now.Add(24*time.Hour)
			return ep
		}(),
		func() *hookline.Endpoint {
			ep := b.newEndpoint("acme")
			ep.Filter = json.RawMessage(`{"data":{"amount":{"$gte":1000},"note":"caf\u00e9"}}`)
			return ep
		}(),
		func() *hookline.Endpoint {
			ep := b.newEndpoint("acme")
			ep.Headers = map[string]string{"X-Api-Key": "k\u00e9y \"1\"", "X-Other": ""}
			ep.Timeout = 2500 * time.Millisecond
			ep.RetrySchedule = []time.Duration{0, 1500 * time.Microsecond, time.Minute}
			ep.Auth = &hookline.EndpointAuth{Type: hookline.AuthBasic, Username: "u", Password: "p:w"}
			return ep
		}(),
		func() *hookline.Endpoint {
			ep := b.newEndpoint("acme")
			ep.Auth = &hookline.EndpointAuth{Type: hookline.AuthOAuth2ClientCredentials, TokenURL: "https://auth.example/token",
				ClientID: "id", ClientSecret: "secret", Scope: "a b"}
			return ep
		}(),
	} {
		if err := b.s.CreateEndpoint(b.ctx, ep); err != nil {
			t.Fatalf("CreateEndpoint: %v", err)
		}
		got, err := b.s.FindEndpoint(b.ctx, ep.ID)
		if err != nil {
			t.Fatalf("FindEndpoint: %v", err)
		}
		wantEndpoint(t, got, ep)
	}
}

func testEndpointCreateDuplicateID(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme")
	dup := b.newEndpoint("other")
	dup.ID = ep.ID
	if err := b.s.CreateEndpoint(b.ctx, dup); err == nil {
		t.Fatal("CreateEndpoint with an existing ID succeeded")
	}
	got, err := b.s.FindEndpoint(b.ctx, ep.ID)
	if err != nil {
		t.Fatalf("FindEndpoint: %v", err)
	}
	wantEndpoint(t, got, ep)
	b.wantStats(t, hookline.StoreStats{Endpoints: 1})
}

func testEndpointFindMissing(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	_, err := b.s.FindEndpoint(b.ctx, hookline.NewID(hookline.EndpointPrefix, b.now))
	wantNotFound(t, err, "FindEndpoint of an unknown ID")
}

func testEndpointUpdateEachField(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme", "invoice.paid")
	want := *ep
	for _, step := range []struct {
		name   string
		u      hookline.EndpointUpdate
		change func(*hookline.Endpoint)
	}{
		{"URL", hookline.EndpointUpdate{URL: ptr("https://new.example/hook")},
			func(e *hookline.Endpoint) { e.URL = "https://new.example/hook" }},
		{"Description", hookline.EndpointUpdate{Description: ptr("billing")},
			func(e *hookline.Endpoint) { e.Description = "billing" }},
		{"EventTypes", hookline.EndpointUpdate{EventTypes: ptr([]string{"user.*", "order.shipped"})},
			func(e *hookline.Endpoint) { e.EventTypes = []string{"user.*", "order.shipped"} }},
		{"Secret", hookline.EndpointUpdate{Secret: ptr("whsec_bmV3IHNlY3JldCBuZXcgc2VjcmV0")},
			func(e *hookline.Endpoint) { e.Secret = "whsec_bmV3IHNlY3JldCBuZXcgc2VjcmV0" }},
		{"Disabled", hookline.EndpointUpdate{Disabled: ptr(true)},
			func(e *hookline.Endpoint) { e.Disabled = true }},
		{"Enabled", hookline.EndpointUpdate{Disabled: ptr(false)},
			func(e *hookline.Endpoint) { e.Disabled = false }},
		{"EventTypesEmpty", hookline.EndpointUpdate{EventTypes: ptr([]string{})},
			func(e *hookline.Endpoint) { e.EventTypes = nil }},
		{"Several", hookline.EndpointUpdate{URL: ptr("https://other.example/"), Disabled: ptr(true)},
			func(e *hookline.Endpoint) { e.URL, e.Disabled = "https://other.example/", true }},
		{"Filter", hookline.EndpointUpdate{SetFilter: true, Filter: json.RawMessage(`{"type":"invoice.paid"}`)},
			func(e *hookline.Endpoint) { e.Filter = json.RawMessage(`{"type":"invoice.paid"}`) }},
		{"OtherFieldKeepsFilter", hookline.EndpointUpdate{Description: ptr("kept")},
			func(e *hookline.Endpoint) { e.Description = "kept" }},
		{"FilterRemoved", hookline.EndpointUpdate{SetFilter: true},
			func(e *hookline.Endpoint) { e.Filter = nil }},
		{"Headers", hookline.EndpointUpdate{SetHeaders: true, Headers: map[string]string{"X-Api-Key": "one"}},
			func(e *hookline.Endpoint) { e.Headers = map[string]string{"X-Api-Key": "one"} }},
		{"Timeout", hookline.EndpointUpdate{Timeout: ptr(3 * time.Second)},
			func(e *hookline.Endpoint) { e.Timeout = 3 * time.Second }},
		{"RetrySchedule", hookline.EndpointUpdate{SetRetrySchedule: true, RetrySchedule: []time.Duration{0, time.Second}},
			func(e *hookline.Endpoint) { e.RetrySchedule = []time.Duration{0, time.Second} }},
		{"Auth", hookline.EndpointUpdate{SetAuth: true, Auth: &hookline.EndpointAuth{Type: hookline.AuthMTLS, Cert: "C", Key: "K"}},
			func(e *hookline.Endpoint) {
				e.Auth = &hookline.EndpointAuth{Type: hookline.AuthMTLS, Cert: "C", Key: "K"}
			}},
		{"OtherFieldKeepsOptions", hookline.EndpointUpdate{Description: ptr("options kept")},
			func(e *hookline.Endpoint) { e.Description = "options kept" }},
		{"OptionsRemoved", hookline.EndpointUpdate{SetHeaders: true, Timeout: ptr(time.Duration(0)), SetRetrySchedule: true, SetAuth: true},
			func(e *hookline.Endpoint) { e.Headers, e.Timeout, e.RetrySchedule, e.Auth = nil, 0, nil, nil }},
	} {
		now := b.advance(time.Second)
		step.change(&want)
		want.UpdatedAt = now
		got, err := b.s.UpdateEndpoint(b.ctx, ep.ID, step.u, now)
		if err != nil {
			t.Fatalf("%s: UpdateEndpoint: %v", step.name, err)
		}
		if got.Version <= want.Version {
			t.Errorf("%s: Version %d, not above the last write's %d", step.name, got.Version, want.Version)
		}
		want.Version = got.Version
		t.Run(step.name, func(t *testing.T) {
			wantEndpoint(t, got, &want)
			found, err := b.s.FindEndpoint(b.ctx, ep.ID)
			if err != nil {
				t.Fatalf("FindEndpoint: %v", err)
			}
			wantEndpoint(t, found, &want)
		})
	}
}

func testEndpointUpdateMissing(t *testing.T, b *bundle) {
	_, err := b.s.UpdateEndpoint(b.ctx, hookline.NewID(hookline.EndpointPrefix, b.now),
		hookline.EndpointUpdate{URL: ptr("https://x.example/")}, b.tick())
	wantNotFound(t, err, "UpdateEndpoint of an unknown ID")
}

// testEndpointUpdateChangesFanOut checks that ingest sees every change at
// once: disabling, enabling and changing the types of an endpoint.
func testEndpointUpdateChangesFanOut(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme", "invoice.paid")
	fanOut := func(typ string) int {
		t.Helper()
		_, r := b.send(t, "acme", typ)
		return r.Results[0].Deliveries
	}
	equal(t, fanOut("invoice.paid"), 1, "deliveries while enabled")
	if _, err := b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{Disabled: ptr(true)}, b.tick()); err != nil {
		t.Fatal(err)
	}
	equal(t, fanOut("invoice.paid"), 0, "deliveries while disabled")
	if _, err := b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{Disabled: ptr(false)}, b.tick()); err != nil {
		t.Fatal(err)
	}
	equal(t, fanOut("invoice.paid"), 1, "deliveries when enabled again")
	if _, err := b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{EventTypes: ptr([]string{"user.*"})}, b.tick()); err != nil {
		t.Fatal(err)
	}
	equal(t, fanOut("invoice.paid"), 0, "deliveries of a type no longer subscribed")
	equal(t, fanOut("user.deleted"), 1, "deliveries of a newly subscribed type")
	// The tasks carry the endpoint as it is now.
	url := "https://moved.example/hook"
	if _, err := b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{URL: &url}, b.tick()); err != nil {
		t.Fatal(err)
	}
	ev := b.event("acme", "user.created")
	r := b.ingest(t, true, ev)
	if len(r.Tasks) != 1 {
		t.Fatalf("%d tasks, want 1", len(r.Tasks))
	}
	equal(t, r.Tasks[0].Endpoint.URL, url, "task Endpoint.URL after the update")
}

// testEndpointFilterFanOut checks payload filters at fan-out: an event
// goes to an endpoint only when its types and its filter match, a filter
// set or removed later applies to the next ingest, and a request's fan-out
// bound counts filtered deliveries only.
func testEndpointFilterFanOut(t *testing.T, b *bundle) {
	big := b.newEndpoint("acme")
	big.Filter = json.RawMessage(`{"data":{"amount":{"$gte":1000}}}`)
	if err := b.s.CreateEndpoint(b.ctx, big); err != nil {
		t.Fatal(err)
	}
	eur := b.newEndpoint("acme", "invoice.*")
	eur.Filter = json.RawMessage(`{"data":{"currency":{"$in":["EUR"]}}}`)
	if err := b.s.CreateEndpoint(b.ctx, eur); err != nil {
		t.Fatal(err)
	}
	all := b.endpoint(t, "acme")
	send := func(typ, data string) []string {
		t.Helper()
		ev := b.event("acme", typ)
		ev.Data = json.RawMessage(data)
		return taskEndpoints(b.ingest(t, false, ev).Tasks)
	}
	sameIDs(t, send("invoice.paid", `{"amount":1500,"currency":"EUR"}`), []string{big.ID, eur.ID, all.ID}, "a big EUR invoice")
	sameIDs(t, send("invoice.paid", `{"amount":10,"currency":"EUR"}`), []string{eur.ID, all.ID}, "a small EUR invoice")
	sameIDs(t, send("user.created", `{"amount":5000,"currency":"EUR"}`), []string{big.ID, all.ID}, "a user event")
	sameIDs(t, send("invoice.paid", `[1]`), []string{all.ID}, "data that is not an object")
	if _, err := b.s.UpdateEndpoint(b.ctx, all.ID, hookline.EndpointUpdate{SetFilter: true, Filter: json.RawMessage(`{"data":{"amount":1}}`)}, b.tick()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.s.UpdateEndpoint(b.ctx, big.ID, hookline.EndpointUpdate{SetFilter: true}, b.tick()); err != nil {
		t.Fatal(err)
	}
	sameIDs(t, send("invoice.paid", `{"amount":10}`), []string{big.ID}, "after the filters changed")
	// The bound counts what the filters let through.
	ev := b.event("acme", "invoice.paid")
	ev.Data = json.RawMessage(`{"amount":1,"currency":"USD"}`)
	r := &hookline.IngestRequest{Events: []*hookline.Event{ev}, MaxDeliveries: 2}
	if err := b.s.Ingest(b.ctx, []*hookline.IngestRequest{r}, b.tick()); err != nil || r.Err != nil {
		t.Fatalf("2 filtered deliveries with a bound of 2: %v, %v", err, r.Err)
	}
	equal(t, r.Results[0].Deliveries, 2, "deliveries through the filters")
}

// testEndpointRotateSecret walks an endpoint through rotations: the
// replaced secret becomes the previous one until the given time, a second
// rotation keeps only the newest previous secret, other updates leave it,
// and it goes with a replacement that keeps nothing, with a keep time not
// after now, and with any update once it has expired.
func testEndpointRotateSecret(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme", "invoice.paid")
	want := *ep
	s1, s2, s3, s4 := "whsec_c2Vjb25kIHNlY3JldCBzZWNvbmQgc2VjcmV0", "whsec_dGhpcmQgc2VjcmV0IHRoaXJkIHNlY3JldA==",
		"whsec_Zm91cnRoIHNlY3JldCBmb3VydGggc2VjcmV0", "whsec_ZmlmdGggc2VjcmV0IGZpZnRoIHNlY3JldCE="
	for _, step := range []struct {
		name    string
		advance time.Duration
		u       func(now time.Time) hookline.EndpointUpdate
		change  func(e *hookline.Endpoint, now time.Time)
	}{
		{"Rotate", time.Second, func(now time.Time) hookline.EndpointUpdate {
			return hookline.EndpointUpdate{Secret: ptr(s1), KeepPreviousUntil: ptr(now.Add(24 * time.Hour))}
		}, func(e *hookline.Endpoint, now time.Time) {
			e.PreviousSecret, e.PreviousSecretExpiresAt, e.Secret = e.Secret, now.Add(24*time.Hour), s1
		}},
		{"OtherFieldKeepsPrevious", time.Second, func(time.Time) hookline.EndpointUpdate {
			return hookline.EndpointUpdate{Description: ptr("rotating")}
		}, func(e *hookline.Endpoint, now time.Time) { e.Description = "rotating" }},
		{"RotateAgainKeepsNewestPrevious", time.Hour, func(now time.Time) hookline.EndpointUpdate {
			return hookline.EndpointUpdate{Secret: ptr(s2), KeepPreviousUntil: ptr(now.Add(time.Minute))}
		}, func(e *hookline.Endpoint, now time.Time) {
			e.PreviousSecret, e.PreviousSecretExpiresAt, e.Secret = s1, now.Add(time.Minute), s2
		}},
		{"ExpiredDroppedByAnyUpdate", time.Minute, func(time.Time) hookline.EndpointUpdate {
			return hookline.EndpointUpdate{Description: ptr("rotated")}
		}, func(e *hookline.Endpoint, now time.Time) {
			e.Description, e.PreviousSecret, e.PreviousSecretExpiresAt = "rotated", "", time.Time{}
		}},
		{"RotateWithGrace", time.Second, func(now time.Time) hookline.EndpointUpdate {
			return hookline.EndpointUpdate{Secret: ptr(s3), KeepPreviousUntil: ptr(now.Add(time.Hour))}
		}, func(e *hookline.Endpoint, now time.Time) {
			e.PreviousSecret, e.PreviousSecretExpiresAt, e.Secret = s2, now.Add(time.Hour), s3
		}},
		{"ReplaceDropsPrevious", time.Second, func(time.Time) hookline.EndpointUpdate {
			return hookline.EndpointUpdate{Secret: ptr(s4)}
		}, func(e *hookline.Endpoint, now time.Time) {
			e.PreviousSecret, e.PreviousSecretExpiresAt, e.Secret = "", time.Time{}, s4
		}},
		{"RotateKeepingUntilNow", time.Second, func(now time.Time) hookline.EndpointUpdate {
			return hookline.EndpointUpdate{Secret: ptr(s1), KeepPreviousUntil: ptr(now)}
		}, func(e *hookline.Endpoint, now time.Time) { e.Secret = s1 }},
		{"KeepIgnoredWithoutSecret", time.Second, func(now time.Time) hookline.EndpointUpdate {
			return hookline.EndpointUpdate{KeepPreviousUntil: ptr(now.Add(time.Hour))}
		}, func(e *hookline.Endpoint, now time.Time) {}},
	} {
		now := b.advance(step.advance)
		step.change(&want, now)
		want.UpdatedAt = now
		got, err := b.s.UpdateEndpoint(b.ctx, ep.ID, step.u(now), now)
		if err != nil {
			t.Fatalf("%s: UpdateEndpoint: %v", step.name, err)
		}
		if got.Version <= want.Version {
			t.Errorf("%s: Version %d, not above the last write's %d", step.name, got.Version, want.Version)
		}
		want.Version = got.Version
		t.Run(step.name, func(t *testing.T) {
			wantEndpoint(t, got, &want)
			found, err := b.s.FindEndpoint(b.ctx, ep.ID)
			if err != nil {
				t.Fatalf("FindEndpoint: %v", err)
			}
			wantEndpoint(t, found, &want)
			list, _, err := b.s.FindEndpoints(b.ctx, hookline.EndpointFilter{Tenant: ptr("acme")})
			if err != nil || len(list) != 1 {
				t.Fatalf("FindEndpoints: %d endpoints, %v", len(list), err)
			}
			wantEndpoint(t, list[0], &want)
		})
	}
}

// testEndpointRotateSecretTasks checks that the tasks of ingest and of
// claims carry both secrets of a rotating endpoint, with the expiry.
func testEndpointRotateSecretTasks(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme", "invoice.paid")
	now := b.tick()
	until := now.Add(24 * time.Hour)
	newSecret := "whsec_cm90YXRlZCBzZWNyZXQgcm90YXRlZCBzZWNyZXQ="
	if _, err := b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{Secret: &newSecret, KeepPreviousUntil: &until}, now); err != nil {
		t.Fatal(err)
	}
	check := func(what string, task *hookline.Task) {
		t.Helper()
		equal(t, task.Endpoint.Secret, newSecret, what+": Endpoint.Secret")
		equal(t, task.Endpoint.PreviousSecret, ep.Secret, what+": Endpoint.PreviousSecret")
		sameTime(t, task.Endpoint.PreviousSecretExpiresAt, until, what+": Endpoint.PreviousSecretExpiresAt")
	}
	r := b.ingest(t, true, b.event("acme", "invoice.paid"))
	if len(r.Tasks) != 1 {
		t.Fatalf("%d tasks, want 1", len(r.Tasks))
	}
	check("ingest task", r.Tasks[0])
	b.send(t, "acme", "invoice.paid")
	tasks := b.claim(t, b.tick())
	if len(tasks) != 1 {
		t.Fatalf("claimed %d tasks, want 1", len(tasks))
	}
	check("claimed task", tasks[0])
}

func testEndpointList(t *testing.T, b *bundle) {
	var all, acme, none []*hookline.Endpoint
	for i := range 9 {
		var ep *hookline.Endpoint
		switch i % 3 {
		case 0:
			ep = b.endpoint(t, "acme")
			acme = append(acme, ep)
		case 1:
			ep = b.endpoint(t, "globex")
		default:
			ep = b.endpoint(t, "")
			none = append(none, ep)
		}
		all = append(all, ep)
	}
	all = append(all, b.disabledEndpoint(t, "initech")) // disabled endpoints are listed too

	for _, tc := range []struct {
		name string
		f    hookline.EndpointFilter
		want []*hookline.Endpoint
	}{
		{"All", hookline.EndpointFilter{}, all},
		{"Tenant", hookline.EndpointFilter{Tenant: ptr("acme")}, acme},
		{"EmptyTenant", hookline.EndpointFilter{Tenant: ptr("")}, none},
		{"UnknownTenant", hookline.EndpointFilter{Tenant: ptr("nobody")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := b.s.FindEndpoints(b.ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			// Endpoints made at later ticks have greater IDs: newest first
			// is greatest ID first.
			want := reverseSorted(endpointIDs(tc.want...))
			if !slices.Equal(endpointIDs(got...), want) {
				t.Errorf("FindEndpoints(%+v) = %v, want %v", tc.f, endpointIDs(got...), want)
			}
			equal(t, next, "", "next cursor of the only page")
			for _, g := range got {
				for _, w := range tc.want {
					if w.ID == g.ID {
						wantEndpoint(t, g, w) // secret included
					}
				}
			}
		})
	}
}

// reverseSorted returns ids sorted greatest, that is newest, first.
func reverseSorted(ids []string) []string {
	s := slices.Clone(ids)
	slices.Sort(s)
	slices.Reverse(s)
	return s
}

func testEndpointListPages(t *testing.T, b *bundle) {
	var acme []string
	for i := range 12 {
		if i%4 == 3 {
			b.endpoint(t, "globex")
			continue
		}
		acme = append(acme, b.endpoint(t, "acme").ID)
	}
	slices.Reverse(acme) // 9 endpoints, newest first
	for _, limit := range []int{1, 2, 4, 8, 9, 10} {
		var got []string
		cursor := ""
		for page := 0; ; page++ {
			if page > len(acme) {
				t.Fatalf("limit %d: more pages than endpoints", limit)
			}
			eps, next, err := b.s.FindEndpoints(b.ctx, hookline.EndpointFilter{Tenant: ptr("acme"), Cursor: cursor, Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(eps) > limit {
				t.Fatalf("limit %d: a page of %d", limit, len(eps))
			}
			got = append(got, endpointIDs(eps...)...)
			if next == "" {
				if len(eps) == 0 && page > 0 {
					t.Errorf("limit %d: an empty last page; the page before it should have had no cursor", limit)
				}
				break
			}
			if len(eps) != limit {
				t.Errorf("limit %d: a page of %d before the last", limit, len(eps))
			}
			cursor = next
		}
		if !slices.Equal(got, acme) {
			t.Errorf("limit %d: pages = %v, want %v", limit, got, acme)
		}
	}
	// Limit 0 is DefaultLimit, which holds them all.
	eps, next, err := b.s.FindEndpoints(b.ctx, hookline.EndpointFilter{Tenant: ptr("acme")})
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != len(acme) || next != "" {
		t.Errorf("Limit 0: %d endpoints, next %q; want %d, \"\"", len(eps), next, len(acme))
	}
}

// testEndpointRequestOptions checks that the tasks of an endpoint with
// request options carry them in their snapshot, as created and after an
// update, and that a change to the endpoint the caller created it from does
// not reach the store's.
func testEndpointRequestOptions(t *testing.T, b *bundle) {
	ep := b.newEndpoint("acme")
	ep.Headers = map[string]string{"X-Api-Key": "one"}
	ep.Timeout = time.Second
	ep.RetrySchedule = []time.Duration{0, time.Minute}
	ep.Auth = &hookline.EndpointAuth{Type: hookline.AuthBasic, Username: "u", Password: "p"}
	if err := b.s.CreateEndpoint(b.ctx, ep); err != nil {
		t.Fatal(err)
	}
	want := *ep
	want.Headers = map[string]string{"X-Api-Key": "one"}
	want.Auth = &hookline.EndpointAuth{Type: hookline.AuthBasic, Username: "u", Password: "p"}
	ep.Headers["X-Api-Key"], ep.Auth.Password = "changed", "changed"
	tasks := b.ingest(t, false, b.event("acme", "invoice.paid")).Tasks
	if len(tasks) != 1 {
		t.Fatalf("%d tasks, want 1", len(tasks))
	}
	wantEndpoint(t, tasks[0].Endpoint, &want)

	now := b.tick()
	got, err := b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{SetHeaders: true, Headers: map[string]string{"X-Api-Key": "two"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version <= want.Version {
		t.Errorf("Version %d after an update, not above %d", got.Version, want.Version)
	}
	want.Headers, want.UpdatedAt, want.Version = map[string]string{"X-Api-Key": "two"}, now, got.Version
	wantEndpoint(t, got, &want)
	tasks = b.ingest(t, false, b.event("acme", "invoice.paid")).Tasks
	if len(tasks) != 1 {
		t.Fatalf("%d tasks, want 1", len(tasks))
	}
	wantEndpoint(t, tasks[0].Endpoint, &want)
}

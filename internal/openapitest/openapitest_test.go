package openapitest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hookline/hookline/api"
	"github.com/hookline/hookline/internal/openapitest"
)

// recorder is a testing.TB that keeps what Errorf reports.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *recorder) Helper() {}

// TestValidatorCatches checks that the validator reports answers that
// differ from the document, through the transport and the proxy alike.
func TestValidatorCatches(t *testing.T) {
	answers := map[string]string{
		"/v1/stats":     `{"pending":"many"}`,                                                  // wrong type, fields missing
		"/v1/keys":      `{"data":[],"next_cursor":null,"total":0}`,                            // an undocumented field
		"/v1/whatever":  `{}`,                                                                  // an undocumented route answering 200
		"/v1/endpoints": `{"data":[],"next_cursor":null}`,                                      // fine
		"/healthz":      `{"status":"ok"}`,                                                     // fine
		"/v1/events":    `{"id":"evt_01JJY3PWG04K5E886GC8CZC8PG","type":"a.b","deliveries":1}`, // accepted though invalid
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == "POST" {
			w.WriteHeader(202)
		}
		io.WriteString(w, answers[r.URL.Path])
	}))
	defer srv.Close()
	for _, via := range []string{"transport", "proxy"} {
		t.Run(via, func(t *testing.T) {
			rec := &recorder{TB: t}
			v := openapitest.New(rec, api.OpenAPI(), srv.URL)
			hc, base := http.DefaultClient, srv.URL
			if via == "transport" {
				hc = &http.Client{Transport: v.Transport(nil)}
			} else {
				base = v.Proxy(srv.URL).URL
			}
			for _, p := range []string{"/v1/stats", "/v1/keys", "/v1/whatever", "/v1/endpoints", "/healthz"} {
				res, err := hc.Get(base + p)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
			}
			res, err := hc.Post(base+"/v1/events", "application/json", strings.NewReader(`{"type":"a.b"}`)) // no data
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			rec.mu.Lock()
			defer rec.mu.Unlock()
			want := []string{"GET /v1/stats", "GET /v1/keys", "GET /v1/whatever", "POST /v1/events"}
			if len(rec.errs) != len(want) {
				t.Fatalf("%d errors, want %d: %q", len(rec.errs), len(want), rec.errs)
			}
			for i, w := range want {
				if !strings.Contains(rec.errs[i], w) {
					t.Errorf("error %d: %s; want one about %s", i, rec.errs[i], w)
				}
			}
		})
	}
}

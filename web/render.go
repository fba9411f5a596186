package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline"
)

// view is what every template gets.
type view struct {
	Title  string
	Nav    string // the active navigation entry
	Base   string // "/" for the dashboard, "/portal/" for the portal
	Portal bool
	Tenant string // the tenant of a portal session
	CSRF   string
	Flash  string
	Error  string
	Live   bool // the page listens to the live stream
	// SignedIn shows the navigation and the sign-out button.
	SignedIn bool
	Query    string
	Data     any
}

// renderer holds the parsed templates: one set per page, each the layout,
// the partials (partials.html) and the page.
type renderer struct {
	pages map[string]*template.Template
}

// funcs are the helpers templates use. Missing figures print as "—".
var funcs = template.FuncMap{
	"asset": assetURL,
	"dash": func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	},
	"num": func(v any) string {
		switch x := v.(type) {
		case *float64:
			if x == nil || math.IsNaN(*x) {
				return "—"
			}
			return strconv.FormatFloat(*x, 'f', -1, 64)
		case *int64:
			if x == nil {
				return "—"
			}
			return strconv.FormatInt(*x, 10)
		case *int:
			if x == nil {
				return "—"
			}
			return strconv.Itoa(*x)
		case int:
			return strconv.Itoa(x)
		case float64:
			return strconv.FormatFloat(x, 'f', 1, 64)
		}
		return "—"
	},
	"rate": func(p *float64) string {
		if p == nil {
			return "—"
		}
		if *p < 10 {
			return strconv.FormatFloat(*p, 'f', 2, 64) + "/s"
		}
		return strconv.FormatFloat(*p, 'f', 1, 64) + "/s"
	},
	"pct": func(p *float64) string {
		if p == nil {
			return "—"
		}
		return strconv.FormatFloat(*p*100, 'f', 1, 64) + "%"
	},
	"ms": func(v any) string {
		switch x := v.(type) {
		case *float64:
			if x == nil {
				return "—"
			}
			return fmtMS(*x)
		case float64:
			return fmtMS(x)
		}
		return "—"
	},
	"when": func(v any) string {
		switch x := v.(type) {
		case time.Time:
			if x.IsZero() {
				return "—"
			}
			return x.UTC().Format("2006-01-02 15:04:05 UTC")
		case *time.Time:
			if x == nil || x.IsZero() {
				return "—"
			}
			return x.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return "—"
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"pretty": func(raw json.RawMessage) string {
		var b bytes.Buffer
		if json.Indent(&b, raw, "", "  ") != nil {
			return string(raw)
		}
		return b.String()
	},
	"join": strings.Join,
	// path escapes a path segment, such as an event type name with a "/".
	"path": url.PathEscape,
	"dict": func(kv ...any) map[string]any {
		m := make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
	"types": func(ts []string) string {
		if len(ts) == 0 {
			return "* (every type)"
		}
		return strings.Join(ts, ", ")
	},
	"circuit": func(h *endpointHealth) string {
		if h == nil || h.Circuit == "" {
			return "—"
		}
		return strings.ReplaceAll(h.Circuit, "_", "-")
	},
	"reason": func(p *string) string {
		if p == nil || *p == "" {
			return ""
		}
		return *p
	},
	"statusCode": func(c int) string {
		if c == 0 {
			return "—"
		}
		return strconv.Itoa(c)
	},
}

// fmtMS formats a duration in milliseconds.
func fmtMS(ms float64) string {
	switch {
	case math.IsNaN(ms):
		return "—"
	case ms < 10:
		return strconv.FormatFloat(ms, 'f', 2, 64) + " ms"
	case ms < 10_000:
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(ms/1000, 'f', 1, 64) + " s"
}

// newRenderer parses the embedded templates; a broken template is a bug
// caught by every test.
func newRenderer() *renderer {
	sub, err := fs.Sub(content, "templates")
	if err != nil {
		panic(err)
	}
	base := template.Must(template.New("layout").Funcs(funcs).ParseFS(sub, "layout.html", "partials.html"))
	names, err := fs.Glob(sub, "*.html")
	if err != nil {
		panic(err)
	}
	r := &renderer{pages: make(map[string]*template.Template)}
	for _, n := range names {
		if n == "layout.html" || n == "partials.html" {
			continue
		}
		t := template.Must(template.Must(base.Clone()).ParseFS(sub, n))
		r.pages[strings.TrimSuffix(n, path.Ext(n))] = t
	}
	return r
}

// render writes page name with v as a whole page with status, or only its
// "table" block when the request asks for the fragment (?fragment=1) that
// live updates fetch.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	t, ok := h.pages.pages[name]
	if !ok {
		panic("web: no template " + name)
	}
	tmpl := "layout"
	if isFragment(r) && t.Lookup("table") != nil {
		tmpl = "table"
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, tmpl, v); err != nil {
		h.log.Error("dashboard: render", "page", name, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// isFragment reports whether r asks for the "table" block of a page only,
// as live updates do: what is outside it need not be read.
func isFragment(r *http.Request) bool {
	return r.URL.Query().Get("fragment") == "1"
}

// errorPage answers with a page that says what went wrong, for a person.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, p *page, status int, title, msg string) {
	v := &view{Title: title, Error: msg, Base: "/"}
	if p != nil {
		v = p.view(title, "", nil)
		v.Error = msg
	}
	h.render(w, r, status, "error", v)
}

// apiError shows an error of the API: a 404 or 400 with its message, an
// expired credential as a sign-in, anything else as a 500 page.
func (h *Handler) apiError(w http.ResponseWriter, r *http.Request, p *page, err error) {
	switch hookline.ErrorCode(err) {
	case hookline.ENOTFOUND:
		h.errorPage(w, r, p, http.StatusNotFound, "Not found", hookline.ErrorMessage(err))
	case hookline.EINVALID, hookline.ECONFLICT:
		h.errorPage(w, r, p, http.StatusBadRequest, "Not done", hookline.ErrorMessage(err))
	case hookline.EFORBIDDEN:
		h.errorPage(w, r, p, http.StatusForbidden, "Not allowed", hookline.ErrorMessage(err))
	case hookline.EUNAUTHORIZED:
		h.signOut(w, r, p)
		if p.portal && p.sess.key == "" {
			h.errorPage(w, r, nil, http.StatusUnauthorized, "Portal session ended", "Open the portal again from the product that linked you here.")
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	case hookline.EUNAVAILABLE:
		h.errorPage(w, r, p, http.StatusServiceUnavailable, "Unavailable", hookline.ErrorMessage(err))
	default:
		h.log.Error("dashboard: api call", "path", r.URL.Path, "err", err)
		h.errorPage(w, r, p, http.StatusInternalServerError, "Internal error", "Something went wrong on our side; it has been logged.")
	}
}

// formError shows an error of a form's action: a mistake in the form
// (invalid, or in conflict with what exists) by showing the form again with
// the API's message, through show; anything else as apiError does.
func (h *Handler) formError(w http.ResponseWriter, r *http.Request, p *page, err error, show func(status int, msg string)) {
	switch hookline.ErrorCode(err) {
	case hookline.EINVALID:
		show(http.StatusBadRequest, hookline.ErrorMessage(err))
	case hookline.ECONFLICT:
		show(http.StatusConflict, hookline.ErrorMessage(err))
	default:
		h.apiError(w, r, p, err)
	}
}

// plural returns "1 thing" or "n things".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

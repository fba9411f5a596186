// Package api is the REST API of Hookline over net/http: endpoints, events,
// deliveries and stats under /v1, guarded by one API key, and the
// unauthenticated /healthz, /readyz, /metrics and /v1/openapi.json (the
// OpenAPI 3.1 document of every route, kept in openapi.json).
//
// Requests and answers are JSON. Every error is an *hookline.Error written as
// {"error":"<code>","message":"…"}, with its HTTP status chosen in one place
// (errorStatus in error.go). A failing request writes nothing to the store.
package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookline/hookline"
)

// DefaultMaxPayload is the largest request body accepted when
// Config.MaxPayload is zero: 1 MiB.
const DefaultMaxPayload = 1 << 20

// DefaultWriteTimeout is how long writing an answer may take when
// Config.WriteTimeout is zero.
const DefaultWriteTimeout = 30 * time.Second

// Config is what a Server needs. Store, Engine and APIKey are required.
type Config struct {
	// Store is read directly for lookups and endpoint changes.
	Store hookline.Store
	// Engine ingests events and makes deliveries pending again.
	Engine Engine
	// APIKey must be sent on every /v1 route as "Authorization: Bearer
	// <key>". It is compared in constant time and never logged. An empty
	// APIKey refuses every /v1 request.
	APIKey string
	// MaxPayload is the largest request body in bytes; larger bodies get 413.
	// Zero or negative means DefaultMaxPayload.
	MaxPayload int64
	// CheckURL validates the destination of an endpoint URL after the API's
	// own checks (absolute http or https with a host and a valid port). It
	// returns an *hookline.Error with code EINVALID whose message names the
	// field, and the flags that would allow the host when it is loopback,
	// private, link-local or unspecified. Nil means no further check.
	CheckURL func(rawURL string) error
	// MaxDeliveryTimeout is the server's delivery timeout, the most an
	// endpoint's timeout may be. Zero means DefaultMaxDeliveryTimeout.
	MaxDeliveryTimeout time.Duration
	// Metrics is served at GET /metrics without the API key. Nil means
	// /metrics is not served.
	Metrics http.Handler
	// Logger receives one line per request (Debug for 2xx and 3xx, Info for
	// 4xx, Warn for 5xx) and internal errors. Nil means slog.Default().
	Logger *slog.Logger
	// Dashboard serves every path outside /v1, /healthz, /readyz and
	// /metrics. Nil means those paths answer 404.
	Dashboard http.Handler
	// WriteTimeout bounds the writing of an answer, so that a client that
	// does not read its answer holds a connection and its buffers only so
	// long. The write deadline is set to now + WriteTimeout as each
	// request arrives, a default for every handler (Metrics and Dashboard
	// included), and again when the API starts writing an answer, after it
	// has read the body. A handler that streams, such as Server-Sent
	// Events, moves or clears its own deadline with
	// http.ResponseController.SetWriteDeadline. Zero means
	// DefaultWriteTimeout; negative means none.
	WriteTimeout time.Duration
	// RateLimit is the most requests per second that one API key may make
	// on /v1, with bursts of one second's worth; past it requests get 429
	// rate_limited with Retry-After. Keys are told apart by a hash of the
	// key sent, so each key of many gets its own limit. Requests with a
	// wrong key are refused before they are counted. Zero or negative
	// means no limit.
	RateLimit float64
	// Now is the clock of the rate limit. Nil means time.Now.
	Now func() time.Time
	// Portal makes the links of POST /v1/portal-links; nil means 404.
	Portal PortalLinker
	// RequireEventTypes refuses (400) events whose type is not in the
	// event type catalog of their tenant (or the default catalog). False
	// accepts unknown types; a type in the catalog with a schema is checked
	// either way.
	RequireEventTypes bool
}

// Server is the HTTP handler of the API. Build it with NewServer.
type Server struct {
	store      hookline.Store
	engine     Engine
	checkURL   func(string) error
	maxTimeout time.Duration
	log        *slog.Logger
	maxPayload int64
	writeTime  time.Duration // 0: no write deadline
	keyHash    [sha256.Size]byte
	hasKey     bool
	keys       *keyCache
	catalog    *catalogCache
	limiter    *keyLimiter // nil: no rate limit
	rateLimit  float64
	now        func() time.Time
	dashboard  http.Handler
	portal     PortalLinker
	mux        *http.ServeMux
	v1Routes   []string // the patterns of every /v1 route
}

var _ http.Handler = (*Server)(nil)

// NewServer returns a Server for c.
func NewServer(c Config) *Server {
	s := &Server{
		store:      c.Store,
		engine:     c.Engine,
		checkURL:   c.CheckURL,
		maxTimeout: c.MaxDeliveryTimeout,
		log:        c.Logger,
		maxPayload: c.MaxPayload,
		writeTime:  c.WriteTimeout,
		hasKey:     c.APIKey != "",
		keyHash:    sha256.Sum256([]byte(c.APIKey)),
		dashboard:  c.Dashboard,
		portal:     c.Portal,
		mux:        http.NewServeMux(),
		limiter:    newKeyLimiter(c.RateLimit),
		rateLimit:  c.RateLimit,
		now:        c.Now,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxTimeout <= 0 {
		s.maxTimeout = DefaultMaxDeliveryTimeout
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.keys = newKeyCache(c.Store, s.now)
	s.catalog = newCatalogCache(c.Store, c.RequireEventTypes)
	if s.maxPayload <= 0 {
		s.maxPayload = DefaultMaxPayload
	}
	switch {
	case s.writeTime == 0:
		s.writeTime = DefaultWriteTimeout
	case s.writeTime < 0:
		s.writeTime = 0
	}
	s.routes(c.Metrics)
	return s
}

// routes registers every route. A GET route also answers HEAD. Requests that
// match no route fall through to handleFallback, which answers 405 (with
// Allow) when the path exists with another method and 404 otherwise, both as
// JSON: ServeMux's own answers are plain text.
func (s *Server) routes(metrics http.Handler) {
	m := s.mux
	m.HandleFunc("GET /healthz", s.handleHealth)
	m.HandleFunc("GET /readyz", s.handleReady)
	if metrics != nil {
		m.Handle("GET /metrics", metrics)
	}
	m.HandleFunc("GET "+openAPIPath, s.handleOpenAPI) // no key: see openapi.go

	// v1 registers a /v1 route; every one is in s.v1Routes, which the
	// tests of tenant scoping go through, so that no route escapes them.
	v1 := func(pattern string, h http.HandlerFunc) {
		m.HandleFunc(pattern, h)
		s.v1Routes = append(s.v1Routes, pattern)
	}
	v1("POST /v1/endpoints", s.handleCreateEndpoint)
	v1("GET /v1/endpoints", s.handleListEndpoints)
	v1("GET /v1/endpoints/{id}", s.handleGetEndpoint)
	v1("PATCH /v1/endpoints/{id}", s.handleUpdateEndpoint)
	v1("DELETE /v1/endpoints/{id}", s.handleDeleteEndpoint)
	v1("GET /v1/endpoints/{id}/secret", s.handleGetEndpointSecret)
	v1("POST /v1/endpoints/{id}/secret/rotate", s.handleRotateEndpointSecret)
	v1("POST /v1/endpoints/{id}/recover", s.handleRecoverEndpoint)
	v1("GET /v1/endpoints/{id}/stats", s.handleEndpointStats)
	v1("POST /v1/endpoints/{id}/replay-missing", s.handleReplayMissing)

	v1("POST /v1/events", s.handleCreateEvent)
	v1("POST /v1/events/batch", s.handleCreateEventBatch)
	v1("GET /v1/events", s.handleListEvents)
	v1("GET /v1/events/{id}", s.handleGetEvent)
	v1("POST /v1/events/{id}/replay", s.handleReplayEvent)

	v1("GET /v1/deliveries", s.handleListDeliveries)
	v1("GET /v1/deliveries/count", s.handleCountDeliveries)
	v1("POST /v1/deliveries/retry", s.handleRetryDeliveries)
	v1("GET /v1/deliveries/{id}", s.handleGetDelivery)
	v1("GET /v1/deliveries/{id}/attempts", s.handleListAttempts)
	v1("POST /v1/deliveries/{id}/retry", s.handleRetryDelivery)

	v1("POST /v1/event-types", s.handleCreateEventType)
	v1("GET /v1/event-types", s.handleListEventTypes)
	v1("GET /v1/event-types/{name}", s.handleGetEventType)
	v1("PATCH /v1/event-types/{name}", s.handleUpdateEventType)
	v1("DELETE /v1/event-types/{name}", s.handleDeleteEventType)

	v1("GET /v1/stats", s.handleStats)
	v1("POST /v1/portal-links", s.handleCreatePortalLink)

	v1("POST /v1/keys", s.handleCreateKey)
	v1("GET /v1/keys", s.handleListKeys)
	v1("DELETE /v1/keys/{id}", s.handleDeleteKey)

	m.HandleFunc("/", s.handleFallback)
}

// ServeHTTP implements http.Handler: it answers 404 to a path that is not
// clean, checks the API key on /v1 paths, routes, recovers from panics and
// logs the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.setWriteDeadline(w, start)
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("http handler panic", "method", clip(r.Method, maxEchoMethod), "path", clip(r.URL.Path, maxEcho),
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if sw.status == 0 {
				writeErrorResponse(sw, hookline.EINTERNAL, "Internal error.")
			}
		}
		s.logRequest(r, sw.status, time.Since(start))
	}()
	if clean := cleanPath(r.URL.Path); clean != r.URL.Path {
		// ServeMux would answer 307 to the clean path, with an HTML body.
		s.writeError(sw, r, hookline.Errorf(hookline.ENOTFOUND, "no route for %s: the path is not clean (no //, /./ or /../); use %s",
			clip(r.URL.Path, maxEcho), clip(clean, maxEcho)))
		return
	}
	if isV1(r.URL.Path) && r.URL.Path != openAPIPath {
		if longSegment(r.URL.Path) {
			s.writeError(sw, r, hookline.Errorf(hookline.ENOTFOUND,
				"no route for %s: a path segment is longer than %d bytes, and no ID is", clip(r.URL.Path, maxEcho), maxSegment))
			return
		}
		sc, scoped := scopeOf(r.Context())
		if !scoped {
			k, sum, err := s.authorize(r)
			if err != nil {
				s.writeError(sw, r, err)
				return
			}
			if s.limiter != nil && !unmetered(r.Context()) {
				if ok, wait := s.limiter.allow(sum, s.now()); !ok {
					sw.Header().Set("Retry-After", strconv.Itoa(retryAfter(wait)))
					s.writeError(sw, r, hookline.Errorf(hookline.ERATELIMIT,
						"too many requests with this API key: the limit is %g per second; retry after %d s", s.rateLimit, retryAfter(wait)))
					return
				}
			}
			if k != nil {
				sc, scoped = scope{tenant: k.Tenant}, true
				r = r.WithContext(withScope(r.Context(), sc))
			}
		}
		if scoped {
			s.serveScoped(sw, r, sc)
			return
		}
	}
	s.mux.ServeHTTP(sw, r)
}

// maxSegment is the longest segment of a /v1 path that is routed. IDs are
// 29 or 30 bytes; a longer segment is answered 404 before it reaches the
// store, whose messages would repeat it.
const maxSegment = 64

// longSegment reports whether a segment of path is over maxSegment bytes.
func longSegment(path string) bool {
	n := 0
	for i := 0; i < len(path); i++ {
		if path[i] == '/' {
			n = 0
		} else if n++; n > maxSegment {
			return true
		}
	}
	return false
}

// Bounds on what an answer or a log line repeats of a request, in bytes, so
// that neither grows with what a client sends.
const (
	maxEcho       = 200  // a path, an ID, a value
	maxEchoMethod = 20   // a method
	maxMessage    = 1024 // a whole error message
)

// clip returns s when it is at most n bytes, else its first n bytes or
// fewer (never splitting a UTF-8 sequence) and a marker with the length of
// s: "AAAA…[50000 bytes]".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…[" + strconv.Itoa(len(s)) + " bytes]"
}

// setWriteDeadline gives the answer on w until now + WriteTimeout to be
// written. Writers that cannot take a deadline (a ResponseRecorder) are
// left alone.
func (s *Server) setWriteDeadline(w http.ResponseWriter, now time.Time) {
	if s.writeTime > 0 {
		_ = http.NewResponseController(w).SetWriteDeadline(now.Add(s.writeTime))
	}
}

// cleanPath returns the canonical form of a URL path, as ServeMux computes
// it before routing: rooted, without empty, "." or ".." segments, and with
// a trailing slash kept.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// isV1 reports whether path is under /v1, where the API key is required.
func isV1(path string) bool {
	return path == "/v1" || strings.HasPrefix(path, "/v1/")
}

// authorize checks the Authorization header against the API key in constant
// time, and returns the SHA-256 of the key sent, which names the key to the
// rate limit. It compares SHA-256 digests so that neither the content nor
// the length of the key leaks through timing.
func (s *Server) authorize(r *http.Request) (k *hookline.APIKey, sum [sha256.Size]byte, err error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, sum, hookline.Errorf(hookline.EUNAUTHORIZED, "Authorization: missing; send \"Authorization: Bearer <API key>\"")
	}
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, sum, hookline.Errorf(hookline.EUNAUTHORIZED, "Authorization: must be \"Bearer <API key>\"")
	}
	key = strings.TrimLeft(key, " ")
	sum = sha256.Sum256([]byte(key))
	if subtle.ConstantTimeCompare(sum[:], s.keyHash[:]) == 1 && s.hasKey {
		return nil, sum, nil
	}
	// A tenant key is looked up by its hash; what is not one is refused
	// without a lookup.
	if strings.HasPrefix(key, hookline.SecretKeyPrefix) && len(key) <= maxTenantKey {
		if k, err = s.keys.find(r.Context(), sum); err != nil {
			return nil, sum, err
		} else if k != nil {
			return k, sum, nil
		}
	}
	return nil, sum, hookline.Errorf(hookline.EUNAUTHORIZED, "Authorization: the API key is not valid")
}

// maxTenantKey is the longest string looked up as a tenant key; a key
// made by POST /v1/keys is 46 bytes.
const maxTenantKey = 64

// probeMethods are the methods the API routes use, in the order an Allow
// header lists them. HEAD is implied by GET.
var probeMethods = [...]string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete}

// handleFallback answers requests no route matched: 405 with an Allow header
// when the path has routes for other methods, the dashboard for paths outside
// the API when there is one, and 404 otherwise.
func (s *Server) handleFallback(w http.ResponseWriter, r *http.Request) {
	if allow := s.allowed(r); allow != "" {
		w.Header().Set("Allow", allow)
		s.writeError(w, r, hookline.Errorf(hookline.EMETHOD, "%s is not allowed on %s; use %s",
			clip(r.Method, maxEchoMethod), clip(r.URL.Path, maxEcho), allow))
		return
	}
	if s.dashboard != nil && !isV1(r.URL.Path) {
		s.dashboard.ServeHTTP(w, r)
		return
	}
	s.writeError(w, r, hookline.Errorf(hookline.ENOTFOUND, "no route for %s", clip(r.URL.Path, maxEcho)))
}

// allowed returns the methods that have a route for r's path, as an Allow
// header value, or "" when none does. It asks the mux itself, so it can never
// disagree with the routes.
func (s *Server) allowed(r *http.Request) string {
	var methods []string
	for _, m := range probeMethods {
		if m == r.Method || (m == http.MethodGet && r.Method == http.MethodHead) {
			continue
		}
		probe := r.WithContext(r.Context()) // a shallow copy
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); strings.HasPrefix(pattern, m+" ") {
			methods = append(methods, m)
			if m == http.MethodGet {
				methods = append(methods, http.MethodHead)
			}
		}
	}
	return strings.Join(methods, ", ")
}

// logRequest writes one line per request: Debug for success so that the hot
// path stays quiet, Info for client errors, Warn for server errors. The query
// string and headers are not logged; the method and path are clipped.
func (s *Server) logRequest(r *http.Request, status int, d time.Duration) {
	if status == 0 {
		status = http.StatusOK
	}
	level := slog.LevelDebug
	switch {
	case status >= 500:
		level = slog.LevelWarn
	case status >= 400:
		level = slog.LevelInfo
	}
	ctx := r.Context()
	if !s.log.Enabled(ctx, level) {
		return
	}
	s.log.LogAttrs(ctx, level, "http request",
		slog.String("method", clip(r.Method, maxEchoMethod)),
		slog.String("path", clip(r.URL.Path, maxEcho)),
		slog.Int("status", status),
		slog.Duration("duration", d),
	)
}

// statusWriter remembers the status written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader implements http.ResponseWriter.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush implements http.Flusher when the underlying writer does.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if w.status == 0 {
			w.status = http.StatusOK
		}
		f.Flush()
	}
}

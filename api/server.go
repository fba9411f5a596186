// Package api is the REST API of Hookline over net/http: endpoints, events,
// deliveries and stats under /v1, guarded by one API key, and the
// unauthenticated /healthz, /readyz and /metrics.
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
	"runtime/debug"
	"strings"
	"time"

	"github.com/hookline/hookline"
)

// DefaultMaxPayload is the largest request body accepted when
// Config.MaxPayload is zero: 1 MiB.
const DefaultMaxPayload = 1 << 20

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
	// own checks (absolute http or https with a host). It returns an
	// *hookline.Error with code EINVALID whose message names the field, and
	// the --allow-private-networks flag when the literal host is loopback,
	// private, link-local or unspecified. Nil means no further check.
	CheckURL func(rawURL string) error
	// Metrics is served at GET /metrics without the API key. Nil means
	// /metrics is not served.
	Metrics http.Handler
	// Logger receives one line per request (Debug for 2xx and 3xx, Info for
	// 4xx, Warn for 5xx) and internal errors. Nil means slog.Default().
	Logger *slog.Logger
	// Dashboard serves every path outside /v1, /healthz, /readyz and
	// /metrics. Nil means those paths answer 404.
	Dashboard http.Handler
}

// Server is the HTTP handler of the API. Build it with NewServer.
type Server struct {
	store      hookline.Store
	engine     Engine
	checkURL   func(string) error
	log        *slog.Logger
	maxPayload int64
	keyHash    [sha256.Size]byte
	hasKey     bool
	dashboard  http.Handler
	mux        *http.ServeMux
}

var _ http.Handler = (*Server)(nil)

// NewServer returns a Server for c.
func NewServer(c Config) *Server {
	s := &Server{
		store:      c.Store,
		engine:     c.Engine,
		checkURL:   c.CheckURL,
		log:        c.Logger,
		maxPayload: c.MaxPayload,
		hasKey:     c.APIKey != "",
		keyHash:    sha256.Sum256([]byte(c.APIKey)),
		dashboard:  c.Dashboard,
		mux:        http.NewServeMux(),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxPayload <= 0 {
		s.maxPayload = DefaultMaxPayload
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

	m.HandleFunc("POST /v1/endpoints", s.handleCreateEndpoint)
	m.HandleFunc("GET /v1/endpoints", s.handleListEndpoints)
	m.HandleFunc("GET /v1/endpoints/{id}", s.handleGetEndpoint)
	m.HandleFunc("PATCH /v1/endpoints/{id}", s.handleUpdateEndpoint)
	m.HandleFunc("DELETE /v1/endpoints/{id}", s.handleDeleteEndpoint)
	m.HandleFunc("GET /v1/endpoints/{id}/secret", s.handleGetEndpointSecret)
	m.HandleFunc("POST /v1/endpoints/{id}/secret/rotate", s.handleRotateEndpointSecret)
	m.HandleFunc("POST /v1/endpoints/{id}/recover", s.handleRecoverEndpoint)
	m.HandleFunc("GET /v1/endpoints/{id}/stats", s.handleEndpointStats)

	m.HandleFunc("POST /v1/events", s.handleCreateEvent)
	m.HandleFunc("POST /v1/events/batch", s.handleCreateEventBatch)
	m.HandleFunc("GET /v1/events/{id}", s.handleGetEvent)
	m.HandleFunc("POST /v1/events/{id}/replay", s.handleReplayEvent)

	m.HandleFunc("GET /v1/deliveries", s.handleListDeliveries)
	m.HandleFunc("GET /v1/deliveries/{id}", s.handleGetDelivery)
	m.HandleFunc("GET /v1/deliveries/{id}/attempts", s.handleListAttempts)
	m.HandleFunc("POST /v1/deliveries/{id}/retry", s.handleRetryDelivery)

	m.HandleFunc("GET /v1/stats", s.handleStats)

	m.HandleFunc("/", s.handleFallback)
}

// ServeHTTP implements http.Handler: it checks the API key on /v1 paths,
// routes, recovers from panics and logs the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("http handler panic", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if sw.status == 0 {
				writeErrorResponse(sw, hookline.EINTERNAL, "Internal error.")
			}
		}
		s.logRequest(r, sw.status, time.Since(start))
	}()
	if isV1(r.URL.Path) {
		if err := s.authorize(r); err != nil {
			s.writeError(sw, r, err)
			return
		}
	}
	s.mux.ServeHTTP(sw, r)
}

// isV1 reports whether path is under /v1, where the API key is required.
func isV1(path string) bool {
	return path == "/v1" || strings.HasPrefix(path, "/v1/")
}

// authorize checks the Authorization header against the API key in constant
// time. It compares SHA-256 digests so that neither the content nor the
// length of the key leaks through timing.
func (s *Server) authorize(r *http.Request) error {
	h := r.Header.Get("Authorization")
	if h == "" {
		return hookline.Errorf(hookline.EUNAUTHORIZED, "Authorization: missing; send \"Authorization: Bearer <API key>\"")
	}
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return hookline.Errorf(hookline.EUNAUTHORIZED, "Authorization: must be \"Bearer <API key>\"")
	}
	sum := sha256.Sum256([]byte(strings.TrimLeft(key, " ")))
	if subtle.ConstantTimeCompare(sum[:], s.keyHash[:]) != 1 || !s.hasKey {
		return hookline.Errorf(hookline.EUNAUTHORIZED, "Authorization: the API key is not valid")
	}
	return nil
}

// probeMethods are the methods the API routes use, in the order an Allow
// header lists them. HEAD is implied by GET.
var probeMethods = [...]string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete}

// handleFallback answers requests no route matched: 405 with an Allow header
// when the path has routes for other methods, the dashboard for paths outside
// the API when there is one, and 404 otherwise.
func (s *Server) handleFallback(w http.ResponseWriter, r *http.Request) {
	if allow := s.allowed(r); allow != "" {
		w.Header().Set("Allow", allow)
		s.writeError(w, r, hookline.Errorf(hookline.EMETHOD, "%s is not allowed on %s; use %s", r.Method, r.URL.Path, allow))
		return
	}
	if s.dashboard != nil && !isV1(r.URL.Path) {
		s.dashboard.ServeHTTP(w, r)
		return
	}
	s.writeError(w, r, hookline.Errorf(hookline.ENOTFOUND, "no route for %s", r.URL.Path))
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
// string and headers are not logged.
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
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
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

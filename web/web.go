// Package web is the dashboard of Hookline for operators and the portal for
// their customers, served by `hookline serve` itself from HTML templates and
// assets embedded in the binary.
//
// The dashboard is a client of the JSON API, in-process: every page and
// action is one or more requests to the api.Server's handler carrying the
// session's credential — the API key an operator signed in with (kept in the
// server-side session store, never sent to the browser), or, for a portal
// session, the tenant, through api.WithTenant. So the API's authorisation
// and tenant scoping are the only ones there are.
//
// Live figures come from one sampler that reads GET /v1/stats once a second
// (never per delivery), keeps the last 15 minutes in memory (Series) and
// publishes each sample to the Server-Sent Events streams of open tabs
// through one registry with a bounded buffer per tab (Hub).
package web

import (
	"crypto/sha256"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultSampleInterval = time.Second
	DefaultSessionTTL     = 12 * time.Hour
	DefaultMaxSessions    = 10_000
	DefaultMaxStreams     = 1_000
)

// Config is what a Handler needs. APIKey and Secret are required.
type Config struct {
	// APIKey is the operator key. The sampler reads GET /v1/stats with it.
	APIKey string
	// Secret signs portal tokens (HMAC-SHA256); at least 32 bytes. See
	// LoadOrCreateSecret and DeriveSecret.
	Secret []byte
	// PublicURL is the base URL Hookline is reached at, such as
	// https://hooks.example.com, for portal links. SetPublicURL may set it
	// later. An https URL also marks session cookies Secure.
	PublicURL string
	// Logger receives internal errors. Nil means slog.Default().
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// SampleInterval is how often the sampler reads the stats; zero means
	// DefaultSampleInterval.
	SampleInterval time.Duration
	// SessionTTL is how long an operator session lasts; zero means
	// DefaultSessionTTL. A portal session ends when its token expires.
	SessionTTL time.Duration
	// MaxSessions bounds the session store; the oldest session is dropped to
	// make room. Zero means DefaultMaxSessions.
	MaxSessions int
	// MaxStreams bounds the live streams open at once; zero means
	// DefaultMaxStreams.
	MaxStreams int
}

// Handler serves the dashboard and the portal. Build it with New, then give
// it the API with Attach; Close stops its sampler and ends its live streams.
type Handler struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	api       atomic.Pointer[client]
	publicURL atomic.Pointer[string]
	keyHash   [sha256.Size]byte
	sessions  *sessions
	hub       *Hub
	series    *Series
	pages     *renderer
	mux       *http.ServeMux

	startOnce sync.Once
	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler for c. It serves nothing but a 503 page until
// Attach.
func New(c Config) *Handler {
	if c.SampleInterval <= 0 {
		c.SampleInterval = DefaultSampleInterval
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = DefaultMaxStreams
	}
	h := &Handler{
		cfg:     c,
		log:     c.Logger,
		now:     c.Now,
		keyHash: sha256.Sum256([]byte(c.APIKey)),
		hub:     NewHub(c.MaxStreams),
		series:  NewSeries(SeriesLength),
		mux:     http.NewServeMux(),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.sessions = newSessions(c.MaxSessions, h.now)
	h.SetPublicURL(c.PublicURL)
	h.pages = newRenderer()
	h.routes()
	return h
}

// Attach gives the handler the API it is a client of (the api.Server's
// handler) and starts the sampler. Later calls do nothing.
func (h *Handler) Attach(api http.Handler) {
	h.startOnce.Do(func() {
		h.api.Store(&client{h: api})
		go h.sample()
	})
}

// SetPublicURL sets the base URL of portal links, such as
// https://hooks.example.com; a trailing slash is dropped.
func (h *Handler) SetPublicURL(u string) {
	u = strings.TrimRight(u, "/")
	h.publicURL.Store(&u)
}

// Close stops the sampler and ends every live stream, so that an
// http.Server's Shutdown does not wait for them (register it with
// RegisterOnShutdown). It is safe to call more than once.
func (h *Handler) Close() {
	h.closeOnce.Do(func() {
		close(h.stop)
		h.hub.Close()
		started := h.api.Load() != nil
		if started {
			<-h.done
		}
	})
}

// secureCookies reports whether cookies of r must be marked Secure: when r
// came over TLS, or Hookline is reached over https.
func (h *Handler) secureCookies(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(*h.publicURL.Load(), "https://")
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if strings.HasPrefix(r.URL.Path, "/portal") {
		hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	} else {
		hdr.Set("Content-Security-Policy", contentSecurityPolicy+"; frame-ancestors 'none'")
		hdr.Set("X-Frame-Options", "DENY")
	}
	if h.api.Load() == nil {
		h.errorPage(w, r, nil, http.StatusServiceUnavailable, "Starting", "Hookline is starting; try again in a moment.")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// contentSecurityPolicy allows nothing but this origin: no inline scripts or
// styles, no other hosts. The portal may be framed by a page of the same
// site (its cookies are SameSite=Strict), the dashboard not at all.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'"

package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/api"
	"github.com/hookline/hookline/delivery"
	"github.com/hookline/hookline/internal/secretbox"
	"github.com/hookline/hookline/internal/sender"
	"github.com/hookline/hookline/sqlite"
	"github.com/hookline/hookline/web"
)

var flagErrHelp = flag.ErrHelp

// Main is the running program of `hookline serve`: the store, the engine and
// the HTTP server wired together. Tests boot it on 127.0.0.1:0.
type Main struct {
	Config Config
	Stdout io.Writer
	Stderr io.Writer
	// HTTP are the limits of the HTTP server, which have no flags;
	// NewMain sets DefaultHTTPLimits, tests shorten them.
	HTTP HTTPLimits
	// Shutdown are the time budgets of Close's steps; NewMain sets
	// DefaultShutdown.
	Shutdown ShutdownBudgets

	Store    hookline.Store
	Engine   *delivery.Engine
	listener net.Listener
	server   *http.Server
	silent   silentConns // the server's connections that sent nothing yet
	closers  []func() error
	lock     *os.File
}

// HTTPLimits bound what one client can hold of the HTTP server.
type HTTPLimits struct {
	// ReadHeaderTimeout bounds the reading of a request's headers (a
	// slowloris client is cut off at it); ReadTimeout the whole request,
	// body included.
	ReadHeaderTimeout, ReadTimeout time.Duration
	// WriteTimeout bounds the writing of an answer (api.Config.WriteTimeout);
	// the server's own write timeout is ReadTimeout + WriteTimeout.
	WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive connection that sends nothing.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers (net/http
	// allows 4 KiB more); past it net/http answers 431.
	MaxHeaderBytes int
}

// DefaultHTTPLimits are the limits of `hookline serve`.
var DefaultHTTPLimits = HTTPLimits{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       60 * time.Second,
	WriteTimeout:      30 * time.Second,
	IdleTimeout:       120 * time.Second,
	MaxHeaderBytes:    64 << 10,
}

// ShutdownBudgets bound the steps of a graceful stop, each with a deadline
// of its own, so that one step running late does not leave the next with an
// expired one.
type ShutdownBudgets struct {
	// HTTP is how long the API server waits for requests under way to
	// finish once it stops accepting; then the connections left (a slow
	// client, one that does not read its answer) are closed.
	HTTP time.Duration
	// Engine is how long in-flight deliveries may take to finish; then they
	// are aborted and resent after restart. Queued deliveries are handed
	// back and outcomes written either way.
	Engine time.Duration
	// Store bounds the closing of the store (a pool waits for its
	// connections).
	Store time.Duration
}

// DefaultShutdown are the budgets of `hookline serve`: 10 s + 15 s + 3 s,
// inside the 30 s a container runtime commonly waits before SIGKILL.
var DefaultShutdown = ShutdownBudgets{HTTP: 10 * time.Second, Engine: 15 * time.Second, Store: 3 * time.Second}

// NewMain returns a Main with the default configuration.
func NewMain() *Main {
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, HTTP: DefaultHTTPLimits, Shutdown: DefaultShutdown}
	_ = m.Config.parse("serve", nil, func(string) string { return "" })
	return m
}

// Addr returns the address the server listens on, once Run has returned.
func (m *Main) Addr() string { return m.listener.Addr().String() }

// Run opens the store, starts the engine and serves the API. It returns once
// the server is listening.
func (m *Main) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = m.Close()
		}
	}()
	c := &m.Config
	log := newLogger(m.Stderr, c.LogLevel, c.LogFormat)
	slog.SetDefault(log)
	memLimit := setMemoryLimit(c.MemoryLimit, log)

	scheme, tlsConfig := "http", (*tls.Config)(nil)
	if c.TLSCert != "" || c.TLSKey != "" {
		if tlsConfig, err = loadTLS(c.TLSCert, c.TLSKey); err != nil {
			return err
		}
		scheme = "https"
	}
	if err := secureDataDir(c.DataDir, c.DatabaseURL == "", log); err != nil {
		return err
	}
	// Bind first, so that a busy port fails the start before a generated key
	// is shown as "only this once".
	tcp, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	m.listener = api.NewListener(tcp, c.MaxConnections)
	if c.APIKey, err = m.apiKey(); err != nil {
		return err
	}
	if c.apiKeyFlag {
		log.Warn("--api-key on the command line can be read by every local user (ps, /proc); prefer HOOKLINE_API_KEY or --api-key-file")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hookline_build_info", Help: "Always 1; the version is a label.",
		ConstLabels: prometheus.Labels{"version": hookline.Version},
	})
	buildInfo.Set(1)
	reg.MustRegister(buildInfo)

	box, err := c.secretBox()
	if err != nil {
		return err
	}
	if c.secretKeyFlag {
		log.Warn("--secret-key or --secret-key-previous on the command line can be read by every local user (ps, /proc); prefer HOOKLINE_SECRET_KEY or --secret-key-file")
	}
	partitioned := false
	if c.DatabaseURL != "" {
		if err := m.openPostgres(ctx, box); err != nil {
			return err
		}
		partitioned = true
	} else {
		if m.lock, err = lockDataDir(c.DataDir); err != nil {
			return err
		}
		s, err := sqlite.Open(filepath.Join(c.DataDir, "hookline.db"), sqlite.WithSecretBox(box))
		if err != nil {
			return fmt.Errorf("open sqlite: %w", secretKeyHint(err))
		}
		m.Store = s
	}
	logSecretBox(log, box, m.Store)

	var proxy *url.URL
	if c.Proxy != "" {
		if proxy, err = sender.ParseProxy(c.Proxy); err != nil {
			return fmt.Errorf("--proxy: %w", err) // not the URL: it may hold a password
		}
	}
	m.Engine = delivery.New(delivery.Config{
		Store:                  m.Store,
		MaxInFlight:            c.MaxInFlightTotal,
		MaxInFlightPerEndpoint: c.MaxInFlight,
		BreakerFailures:        c.BreakerFailures,
		BreakerCooldown:        c.BreakerCooldown,
		BreakerMaxCooldown:     c.BreakerMaxCooldown,
		DisableAfter:           c.DisableAfter,
		MemoryQueue:            c.MemoryQueue,
		MemoryQueueBytes:       memoryQueueBytes(c.MemoryQueueBytes, memLimit),
		MaxFanout:              c.MaxFanout,
		MaxBacklog:             c.MaxBacklog,
		RetrySchedule:          c.RetrySchedule,
		DeliveryTimeout:        c.DeliveryTimeout,
		AllowPrivateNetworks:   c.AllowPrivateNetworks,
		AllowDestinations:      c.AllowDestinations,
		Proxy:                  proxy,
		Retention:              c.Retention,
		Partitioned:            partitioned,
		NodeID:                 c.NodeID,
		Logger:                 log,
		Registerer:             reg,
	})
	if err := m.Engine.Start(ctx); err != nil {
		return fmt.Errorf("start engine: %w", err)
	}
	if partitioned {
		if err := m.startLeases(ctx, log); err != nil {
			return err
		}
	}

	dash, err := m.dashboard()
	if err != nil {
		return err
	}
	dest := sender.Destinations{AllowPrivate: c.AllowPrivateNetworks, Allow: c.AllowDestinations}
	handler := api.NewServer(api.Config{
		Store:      m.Store,
		Engine:     m.Engine,
		APIKey:     c.APIKey,
		MaxPayload: c.MaxPayload,
		CheckURL:   dest.CheckURL,

		MaxDeliveryTimeout: c.DeliveryTimeout,
		Metrics:            promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Logger:             log,
		WriteTimeout:       m.HTTP.WriteTimeout,
		RateLimit:          c.APIRateLimit,
		Dashboard:          dash,
		Portal:             dash,

		RequireEventTypes: c.RequireEventTypes,
	})
	dash.Attach(handler)
	m.closers = append(m.closers, func() error { dash.Close(); return nil })
	dash.SetPublicURL(cmp.Or(c.PublicURL, scheme+"://"+m.Addr()))
	m.server = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: m.HTTP.ReadHeaderTimeout,
		ReadTimeout:       m.HTTP.ReadTimeout,
		WriteTimeout:      m.HTTP.ReadTimeout + m.HTTP.WriteTimeout, // the API sets a tighter one per request
		IdleTimeout:       m.HTTP.IdleTimeout,
		MaxHeaderBytes:    m.HTTP.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ConnState:         m.silent.track,
	}
	m.server.TLSConfig = tlsConfig
	m.server.RegisterOnShutdown(dash.Close) // ends the live streams, which never go idle
	go func() {
		var err error
		if scheme == "https" {
			err = m.server.ServeTLS(m.listener, "", "") // the certificate is in TLSConfig; HTTP/2 is on
		} else {
			err = m.server.Serve(m.listener)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()
	if c.DebugAddr != "" {
		go func() {
			mux := http.NewServeMux()
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
			log.Info("pprof serving", "debug_addr", c.DebugAddr)
			log.Error("pprof server", "err", http.ListenAndServe(c.DebugAddr, mux))
		}()
		runtime.SetMutexProfileFraction(100)
		runtime.SetBlockProfileRate(100_000)
	}
	log.Info("hookline serving", "addr", m.Addr(), "scheme", scheme, "version", hookline.Version, "store", storeName(c))
	return nil
}

// Close shuts down in order, each step within its budget (m.Shutdown): stop
// accepting and finish requests, closing the connections that sent none
// after silentGrace and those still busy at the end of the budget; stop the
// engine with a deadline of its own (commit accepted events, hand back
// queued deliveries, finish or abort in-flight ones, write every outcome);
// release leases; close the store. It logs each step. A client cut off, or
// deliveries aborted at the deadline, are what the budgets are for and not
// errors; a store that does not answer or close is.
func (m *Main) Close() error {
	log := slog.Default()
	log.Info("hookline stopping")
	b := m.Shutdown
	start := time.Now()
	var errs []error
	if m.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), b.HTTP)
		err := m.silent.shutdown(ctx, m.server)
		cancel()
		if err != nil {
			log.Warn("hookline stopping: requests still under way after the HTTP budget; closing their connections",
				"budget", b.HTTP.String(), "err", err)
			_ = m.server.Close() // its error is the listener's, closed already
		}
		log.Info("hookline stopping: HTTP server closed", "took", time.Since(start).Round(time.Millisecond).String(), "forced", err != nil)
	} else if m.listener != nil {
		errs = append(errs, m.listener.Close())
	}
	httpDone := time.Now()
	if m.Engine != nil {
		ctx, cancel := context.WithTimeout(context.Background(), b.Engine)
		err := m.Engine.Close(ctx)
		cancel()
		switch {
		case errors.Is(err, delivery.ErrStoreNotAnswering):
			errs = append(errs, err)
		case err != nil:
			log.Warn("hookline stopping: deliveries still in flight after the engine budget were aborted; they are resent after restart",
				"budget", b.Engine.String())
		}
		log.Info("hookline stopping: engine stopped", "took", time.Since(httpDone).Round(time.Millisecond).String(), "aborted", err != nil)
	}
	engineDone := time.Now()
	for i := len(m.closers) - 1; i >= 0; i-- {
		errs = append(errs, m.closers[i]())
	}
	if m.Store != nil {
		errs = append(errs, closeWithin(m.Store.Close, b.Store, "close store"))
	}
	if m.lock != nil {
		errs = append(errs, m.lock.Close())
	}
	err := errors.Join(errs...)
	// How long each step took tells an operator what a slow stop waited on.
	log.Info("hookline stopped", "http", httpDone.Sub(start).Round(time.Millisecond).String(),
		"engine", engineDone.Sub(httpDone).Round(time.Millisecond).String(),
		"release", time.Since(engineDone).Round(time.Millisecond).String(), "err", err)
	return err
}

// closeWithin calls close and returns its error, or an error naming what
// after d if it has not returned by then (it is left running: the process is
// about to exit).
func closeWithin(close func() error, d time.Duration, what string) error {
	done := make(chan error, 1)
	go func() { done <- close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return fmt.Errorf("%s: not done after %s", what, d)
	}
}

// dashboard returns the dashboard and portal of `hookline serve`. Portal
// links are signed with a secret saved in the data dir, or, with
// PostgreSQL, derived from the API key that every node shares, so that each
// node accepts the others' links.
func (m *Main) dashboard() (*web.Handler, error) {
	c := &m.Config
	secret := web.DeriveSecret(c.APIKey)
	if c.DatabaseURL == "" {
		var err error
		if secret, err = web.LoadOrCreateSecret(c.DataDir); err != nil {
			return nil, err
		}
	}
	return web.New(web.Config{APIKey: c.APIKey, Secret: secret, PublicURL: c.PublicURL, Logger: slog.Default()}), nil
}

// logSecretBox says at start how endpoint secrets are stored, and how many
// Open re-sealed.
func logSecretBox(log *slog.Logger, box *secretbox.Box, s hookline.Store) {
	var resealed int
	if r, ok := s.(interface{ ResealedSecrets() int }); ok {
		resealed = r.ResealedSecrets()
	}
	switch {
	case box == nil:
		return
	case box.KeyID() == "":
		log.Warn("endpoint secrets are stored in plain: --secret-key-previous without --secret-key", "decrypted", resealed)
	default:
		log.Info("endpoint secrets are encrypted in the store", "key_id", box.KeyID(), "resealed", resealed)
	}
}

func storeName(c *Config) string {
	if c.DatabaseURL != "" {
		return "postgres"
	}
	return "sqlite"
}

// loadTLS returns the TLS configuration of the API server: the certificate
// chain and key of the PEM files certFile and keyFile, TLS 1.2 at least.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("--tls-cert and --tls-key go together: give both, or neither to serve plain HTTP")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// lockDataDir takes an exclusive lock on the data dir, so two processes never
// share one SQLite database.
func lockDataDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data dir %s is in use by another hookline process", dir)
	}
	return f, nil
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/delivery"
	"github.com/hookline/hookline/internal/secretbox"
	"github.com/hookline/hookline/internal/sender"
)

// Config is the configuration of `hookline serve`. Every field has a flag
// and an environment variable; the flag wins.
type Config struct {
	Addr                 string
	DataDir              string
	DatabaseURL          string
	APIKey               string
	APIKeyFile           string
	PrintAPIKey          bool
	AllowPrivateNetworks bool
	AllowDestinations    []netip.Prefix
	Proxy                string // checked by Run, so that errors never repeat a password in it
	RetrySchedule        []time.Duration
	DeliveryTimeout      time.Duration
	MaxPayload           int64
	Retention            time.Duration
	MaxInFlightTotal     int
	MaxInFlight          int
	BreakerFailures      int
	BreakerCooldown      time.Duration
	BreakerMaxCooldown   time.Duration
	DisableAfter         time.Duration
	MemoryQueue          int
	MemoryQueueBytes     int64 // 0: a quarter of the memory limit, at most 256 MiB
	MemoryLimit          int64 // 0: from the cgroup; -1: none
	MaxFanout            int
	RequireEventTypes    bool
	MaxBacklog           int64
	LeaseTimeout         time.Duration
	NodeID               string
	LogLevel             string
	LogFormat            string
	DebugAddr            string
	MaxConnections       int
	APIRateLimit         float64
	TLSCert              string
	TLSKey               string
	PublicURL            string
	// SecretKey, SecretKeyFile and SecretKeyPrevious are kept as given and
	// read by secretBox, whose errors never show them.
	SecretKey         string
	SecretKeyFile     string
	SecretKeyPrevious string

	apiKeyFlag    bool // the key was given as --api-key, which ps shows
	secretKeyFlag bool // a secret key was given on the command line too
}

// flagSpec describes one setting for the flag set and the help text.
type flagSpec struct {
	name, env, def, help string
	set                  func(string) error
}

func (c *Config) specs() []flagSpec {
	str := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	dur := func(p *time.Duration) func(string) error {
		return func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("want a positive duration such as 15s")
			}
			*p = d
			return nil
		}
	}
	integer := func(p *int) func(string) error {
		return func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return fmt.Errorf("want a positive integer")
			}
			*p = n
			return nil
		}
	}
	return []flagSpec{
		{"addr", "HOOKLINE_ADDR", "127.0.0.1:8080", "address to listen on", str(&c.Addr)},
		{"data-dir", "HOOKLINE_DATA_DIR", "./hookline-data", "directory of the SQLite database and the generated API key", str(&c.DataDir)},
		{"database-url", "HOOKLINE_DATABASE_URL", "", "postgres://… to use PostgreSQL (shared by many nodes) instead of SQLite", str(&c.DatabaseURL)},
		{"api-key", "HOOKLINE_API_KEY", "", "API key for /v1, at least 32 random characters (default: generated on first start and saved in the data dir)", str(&c.APIKey)},
		{"api-key-file", "HOOKLINE_API_KEY_FILE", "", "file holding the API key (e.g. a container secret), instead of --api-key, which ps shows", str(&c.APIKeyFile)},
		{"print-api-key", "HOOKLINE_PRINT_API_KEY", "false", "print a generated API key even when standard output is not a terminal", boolean(&c.PrintAPIKey)},
		{"allow-private-networks", "HOOKLINE_ALLOW_PRIVATE_NETWORKS", "false", "allow endpoints on every loopback, private and link-local address (prefer --allow-destinations)", boolean(&c.AllowPrivateNetworks)},
		{"allow-destinations", "HOOKLINE_ALLOW_DESTINATIONS", "", "non-public CIDR prefixes endpoints may be on besides public addresses, e.g. 127.0.0.1/32,10.1.0.0/16", func(v string) (err error) {
			c.AllowDestinations, err = sender.ParsePrefixes(v)
			return err
		}},
		{"proxy", "HOOKLINE_PROXY", "", "http://[user:password@]host:port of an HTTP proxy for deliveries (CONNECT to each target once checked); environment proxies are ignored", str(&c.Proxy)},
		{"retry-schedule", "HOOKLINE_RETRY_SCHEDULE", "0s,5s,5m,30m,2h,5h,10h,10h", "delay before each attempt (±20% jitter); its length is the number of attempts", func(v string) (err error) {
			c.RetrySchedule, err = delivery.ParseSchedule(v)
			return err
		}},
		{"delivery-timeout", "HOOKLINE_DELIVERY_TIMEOUT", "15s", "time limit of one delivery attempt", dur(&c.DeliveryTimeout)},
		{"max-payload", "HOOKLINE_MAX_PAYLOAD", "1MiB", "largest request body, in bytes or with a KiB/MiB suffix", func(v string) (err error) {
			c.MaxPayload, err = parseSize(v)
			return err
		}},
		{"retention", "HOOKLINE_RETENTION", "720h", "how long events, deliveries and attempts are kept (pending ones always are)", dur(&c.Retention)},
		{"max-in-flight", "HOOKLINE_MAX_IN_FLIGHT", "2048", "requests in flight at once, all endpoints together (each a goroutine and a connection; past half of it an endpoint gets only its fair share)", integer(&c.MaxInFlightTotal)},
		{"workers", "HOOKLINE_WORKERS", "", "deprecated: the same as --max-in-flight", func(v string) error {
			if v == "" {
				return nil
			}
			return integer(&c.MaxInFlightTotal)(v)
		}},
		{"max-in-flight-per-endpoint", "HOOKLINE_MAX_IN_FLIGHT_PER_ENDPOINT", "16", "concurrent requests to an endpoint that sets no max_in_flight (the ceiling of its adaptive limit)", integer(&c.MaxInFlight)},
		{"breaker-failures", "HOOKLINE_BREAKER_FAILURES", "10", "consecutive failed attempts that open an endpoint's circuit", integer(&c.BreakerFailures)},
		{"breaker-cooldown", "HOOKLINE_BREAKER_COOLDOWN", "30s", "how long an open circuit waits for its first probe; doubles after each failed probe", dur(&c.BreakerCooldown)},
		{"breaker-max-cooldown", "HOOKLINE_BREAKER_MAX_COOLDOWN", "10m", "the longest cooldown of an open circuit", dur(&c.BreakerMaxCooldown)},
		{"disable-after", "HOOKLINE_DISABLE_AFTER", "120h", "disable an endpoint that fails with no successful attempt for this long (0: never)", func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return fmt.Errorf("want a duration such as 120h, or 0 for never")
			}
			c.DisableAfter = d
			if d == 0 {
				c.DisableAfter = -1
			}
			return nil
		}},
		{"memory-queue", "HOOKLINE_MEMORY_QUEUE", "50000", "deliveries held in memory; the rest wait in the store", integer(&c.MemoryQueue)},
		{"memory-queue-bytes", "HOOKLINE_MEMORY_QUEUE_BYTES", "auto", "payload bytes held in memory (with KiB/MiB/GiB); auto: a quarter of the memory limit, at most 256MiB", func(v string) (err error) {
			if v == "auto" {
				c.MemoryQueueBytes = 0
				return nil
			}
			c.MemoryQueueBytes, err = parseSize(v)
			return err
		}},
		{"memory-limit", "HOOKLINE_MEMORY_LIMIT", "auto", "soft memory limit of the Go runtime (with KiB/MiB/GiB); auto: 90% of the cgroup's limit, none without one; off: none (GOMEMLIMIT overrides)", func(v string) (err error) {
			switch v {
			case "auto":
				c.MemoryLimit = 0
			case "off":
				c.MemoryLimit = -1
			default:
				c.MemoryLimit, err = parseSize(v)
			}
			return err
		}},
		{"require-event-types", "HOOKLINE_REQUIRE_EVENT_TYPES", "false", "refuse (400) events whose type is not in the event type catalog (/v1/event-types)", boolean(&c.RequireEventTypes)},
		{"max-fanout", "HOOKLINE_MAX_FANOUT", "100000", "most deliveries one API request may make (an event to many endpoints, or a batch); past it 413", integer(&c.MaxFanout)},
		{"max-backlog", "HOOKLINE_MAX_BACKLOG", "10000000", "pending deliveries past which ingest answers 503 with Retry-After", func(v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return fmt.Errorf("want a positive integer")
			}
			c.MaxBacklog = n
			return nil
		}},
		{"lease-timeout", "HOOKLINE_LEASE_TIMEOUT", "15s", "PostgreSQL: how long a dead node's partitions stay leased", dur(&c.LeaseTimeout)},
		{"node-id", "HOOKLINE_NODE_ID", "", "PostgreSQL: the name of this node, unique per node (default: host name and process ID, as host-1234)", str(&c.NodeID)},
		{"log-level", "HOOKLINE_LOG_LEVEL", "info", "debug, info, warn or error", oneOf(&c.LogLevel, "debug", "info", "warn", "error")},
		{"log-format", "HOOKLINE_LOG_FORMAT", "text", "text or json", oneOf(&c.LogFormat, "text", "json")},
		{"debug-addr", "HOOKLINE_DEBUG_ADDR", "", "address for net/http/pprof (e.g. 127.0.0.1:6060); off when empty", str(&c.DebugAddr)},
		{"tls-cert", "HOOKLINE_TLS_CERT", "", "PEM certificate chain: serve HTTPS (HTTP/2 on) with --tls-key", str(&c.TLSCert)},
		{"tls-key", "HOOKLINE_TLS_KEY", "", "PEM private key of --tls-cert", str(&c.TLSKey)},
		{"api-rate-limit", "HOOKLINE_API_RATE_LIMIT", "0", "requests per second one API key may make on /v1, in bursts of a second's worth; past it 429 (0: no limit)", func(v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
				return fmt.Errorf("want a non-negative number such as 50 or 0.5")
			}
			c.APIRateLimit = f
			return nil
		}},
		{"max-connections", "HOOKLINE_MAX_CONNECTIONS", "4096", "API connections open at once; more wait to be accepted (0: no cap)", func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("want a non-negative integer")
			}
			c.MaxConnections = n
			return nil
		}},
		{"public-url", "HOOKLINE_PUBLIC_URL", "", "base URL Hookline is reached at, for portal links (default: http://<addr>)", func(v string) error {
			if v != "" && !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
				return fmt.Errorf("want an http:// or https:// URL")
			}
			c.PublicURL = strings.TrimRight(v, "/")
			return nil
		}},
		{"secret-key", "HOOKLINE_SECRET_KEY", "", "encrypt endpoint secrets in the store with this key: the base64 of 32 random bytes (openssl rand -base64 32); off when empty", str(&c.SecretKey)},
		{"secret-key-file", "HOOKLINE_SECRET_KEY_FILE", "", "file holding --secret-key (e.g. a container secret), instead of --secret-key, which ps shows", str(&c.SecretKeyFile)},
		{"secret-key-previous", "HOOKLINE_SECRET_KEY_PREVIOUS", "", "comma-separated former secret keys: what they sealed is read, and re-sealed with --secret-key at start", str(&c.SecretKeyPrevious)},
	}
}

// parse fills c from the environment, then from args; a flag wins over its
// environment variable, which wins over the default.
func (c *Config) parse(name string, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the caller prints the error once, or the usage for --help
	specs := c.specs()
	for _, s := range specs {
		v := s.def
		from := "default"
		if e := getenv(s.env); e != "" {
			v, from = e, s.env
		}
		if err := s.set(v); err != nil {
			return fmt.Errorf("%s=%q: %w", from, v, err)
		}
		fs.Func(s.name, s.help, s.set)
	}
	// Boolean flags may be given without a value.
	fs.Lookup("allow-private-networks").Value = boolValue{&c.AllowPrivateNetworks}
	fs.Lookup("print-api-key").Value = boolValue{&c.PrintAPIKey}
	if err := fs.Parse(args); err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) {
		c.apiKeyFlag = c.apiKeyFlag || f.Name == "api-key"
		c.secretKeyFlag = c.secretKeyFlag || f.Name == "secret-key" || f.Name == "secret-key-previous"
	})
	return nil
}

// usage writes the flags of `hookline name`, with their environment
// variables and defaults.
func (c *Config) usage(w io.Writer, name string) {
	fmt.Fprintf(w, "Usage: hookline %s [flags]\n\nFlags (each also set by its environment variable; the flag wins):\n", name)
	for _, s := range c.specs() {
		def := s.def
		if def == "" {
			def = "none"
		}
		fmt.Fprintf(w, "  --%s  (%s, default %s)\n      %s\n", s.name, s.env, def, s.help)
	}
}

// oneOf parses a setting that must be one of values, as written or in
// another case, into p, lower-cased.
func oneOf(p *string, values ...string) func(string) error {
	return func(v string) error {
		for _, ok := range values {
			if strings.EqualFold(v, ok) {
				*p = ok
				return nil
			}
		}
		return fmt.Errorf("want %s or %s", strings.Join(values[:len(values)-1], ", "), values[len(values)-1])
	}
}

// boolean parses a true or false setting into p.
func boolean(p *bool) func(string) error {
	return func(v string) (err error) {
		*p, err = strconv.ParseBool(v)
		return err
	}
}

// boolValue lets a boolean flag stand alone (--allow-private-networks).
type boolValue struct{ p *bool }

func (b boolValue) String() string   { return "" }
func (b boolValue) IsBoolFlag() bool { return true }
func (b boolValue) Set(v string) (err error) {
	*b.p, err = strconv.ParseBool(v)
	return err
}

// secretBox returns the secret box of --secret-key (or --secret-key-file)
// and --secret-key-previous, nil when none is set. Its errors name the
// setting at fault, never a key.
func (c *Config) secretBox() (*secretbox.Box, error) {
	text := c.SecretKey
	if c.SecretKeyFile != "" {
		if text != "" {
			return nil, errors.New("--secret-key and --secret-key-file (or HOOKLINE_SECRET_KEY and HOOKLINE_SECRET_KEY_FILE) are both set: give one, not both")
		}
		k, err := readKeyFile(c.SecretKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--secret-key-file: %w", err)
		} else if k == "" {
			return nil, fmt.Errorf("--secret-key-file: %s is empty", c.SecretKeyFile)
		}
		text = k
	}
	var current []byte
	if text != "" {
		k, err := secretbox.ParseKey(text)
		if err != nil {
			return nil, fmt.Errorf("--secret-key: %w", err)
		}
		current = k
	}
	var previous [][]byte
	for i, p := range strings.Split(c.SecretKeyPrevious, ",") {
		if strings.TrimSpace(p) == "" {
			continue
		}
		k, err := secretbox.ParseKey(p)
		if err != nil {
			return nil, fmt.Errorf("--secret-key-previous: key %d: %w", i+1, err)
		}
		previous = append(previous, k)
	}
	if current == nil && previous == nil {
		return nil, nil
	}
	return secretbox.New(current, previous...)
}

// secretKeyHint adds to an error of opening the store what to do when it
// is about the secret key.
func secretKeyHint(err error) error {
	switch {
	case errors.Is(err, secretbox.ErrUnknownKey):
		return fmt.Errorf("%w; start with the key of that ID as --secret-key, or among --secret-key-previous", err)
	case errors.Is(err, secretbox.ErrOpen):
		return fmt.Errorf("%w; the value in the database was altered, or another key has the same ID", err)
	}
	return err
}

// parseSize reads "1048576", "512KiB", "1MiB" or "2GiB".
func parseSize(v string) (int64, error) {
	mult := int64(1)
	s := strings.TrimSpace(v)
	switch {
	case strings.HasSuffix(s, "GiB"):
		mult, s = 1<<30, strings.TrimSuffix(s, "GiB")
	case strings.HasSuffix(s, "MiB"):
		mult, s = 1<<20, strings.TrimSuffix(s, "MiB")
	case strings.HasSuffix(s, "KiB"):
		mult, s = 1<<10, strings.TrimSuffix(s, "KiB")
	case strings.HasSuffix(s, "B"):
		s = strings.TrimSuffix(s, "B")
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("want a positive size such as 1048576, 512KiB or 1MiB")
	}
	return n * mult, nil
}

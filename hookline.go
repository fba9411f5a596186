// Package hookline holds the domain of Hookline, a self-hosted webhook
// delivery service: endpoints, events, deliveries and attempts, the error type
// every layer speaks, and the Store interface that the embedded SQLite store
// and the PostgreSQL store implement.
//
// The package has no I/O imports. The delivery engine lives in package
// delivery, the stores in sqlite and postgres, the REST API in api, and the
// Standard Webhooks signature code in signature.
package hookline

import "time"

// Version is the version of Hookline, reported by `hookline version`, in the
// user-agent of every delivery, and on /metrics. It is set at link time.
var Version = "0.1.0-dev"

// Partitions is the fixed number of partitions endpoints hash into. A node
// dispatches the deliveries of the partitions it owns; a single SQLite node
// owns all of them.
const Partitions = 128

// IdempotencyWindow is how long an idempotency key is remembered.
const IdempotencyWindow = 24 * time.Hour

// Now returns the current time truncated to the microsecond, the precision
// every store keeps.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

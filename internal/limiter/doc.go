// Package limiter holds the per-endpoint controls of the delivery engine,
// as plain state machines with an injected clock: the circuit breaker, the
// adaptive (AIMD) concurrency limit, and the send-rate limiter with its
// static and adaptive rates. None of them locks; the engine holds one lock
// around an endpoint's state.
package limiter

package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// The tenants of noisy-tenant, by their names in the report.
const (
	// TenantQuiet is tenant B's name at the server: it sends at a modest
	// rate in both phases and is measured.
	TenantQuiet = "bench-b"
	// TenantNoisy is tenant A's: idle, then noisy.
	TenantNoisy = "bench-a"
)

// defaultNoisyFactor is tenant A's default rate in noisy-tenant, as a
// multiple of B's.
const defaultNoisyFactor = 20

// quietClients is the least number of senders of tenant B's open model, so
// that its requests never wait for a free sender (and --clients, which
// bounds A's flood, does not bound B).
const quietClients = 64

// runNoisyTenant is noisy-tenant. Each phase registers, on a fresh server,
// B's endpoints and then A's, all subscribed to one event type, so that
// only the tenant keeps an event from the other's endpoints; B sends at
// its rate in both, A nothing in the first and its multiple of B's rate
// (or a flood) in the second. Both phases measure both and wait for
// every delivery of both.
func runNoisyTenant(ctx context.Context, e *env) error {
	c := &e.cfg
	nr := &NoisyTenantReport{EndpointsPerTenant: c.Endpoints, TenantB: TenantQuiet, TenantA: TenantNoisy,
		RateB: c.Rate, Factor: c.NoisyFactor, BatchA: c.Batch}
	if c.NoisyFactor > 0 {
		nr.RateA = c.Rate * c.NoisyFactor
	}
	e.report.NoisyTenant = nr
	for i, ph := range []*Phase{&nr.Quiet, &nr.Noisy} {
		noisy := i == 1
		ph.Name = "A idle"
		prefix := "idle "
		if noisy {
			ph.Name, prefix = "A noisy", "noisy "
			if err := e.freshServers(ctx); err != nil {
				return err
			}
		}
		if c.Progress != nil {
			fmt.Fprintf(c.Progress, "phase %d of 2: B at %s events/s, %s\n", i+1, num(c.Rate), nr.aLoad(noisy))
		}
		b, a, err := e.tenantLoads(ctx)
		if err != nil {
			return err
		}
		a.idle, a.rate = !noisy, nr.RateA
		e.begin(time.Now(), prefix+"warm-up")
		sp, err := e.runLoads(ctx, prefix, e.loads)
		endErr := e.endLoadsPhase(ctx, ph, sp, e.loads, noisy)
		// B of the last phase is the run's own load, which finish counts.
		if !noisy {
			e.account(b)
		}
		e.account(a)
		if noisy {
			e.ownFigures(ph.load("B"), sp, b.drained && a.drained)
		}
		if err := errors.Join(err, endErr); err != nil {
			return fmt.Errorf("%s phase: %w", ph.Name, err)
		}
	}
	nr.compare()
	return nil
}

// tenantLoads registers the phase's endpoints, B's first, and makes the
// two tenants' loads, B's the measured one. B sends one event per request,
// from at least quietClients senders; A in requests of --batch, from
// --clients.
func (e *env) tenantLoads(ctx context.Context) (b, a *namedLoad, err error) {
	c := &e.cfg
	eventType := newEventType()
	firstB, err := e.addEndpoints(ctx, eventType, TenantQuiet, c.Endpoints)
	if err != nil {
		return nil, nil, err
	}
	firstA, err := e.addEndpoints(ctx, eventType, TenantNoisy, c.Endpoints)
	if err != nil {
		return nil, nil, err
	}
	b = e.newLoad("B", eventType, TenantQuiet, 0, firstB, c.Endpoints, 1)
	b.rate, b.clients = c.Rate, max(c.Clients, quietClients)
	e.measure(b)
	a = e.newLoad("A", eventType, TenantNoisy, 0, firstA, c.Endpoints, c.Batch)
	e.loads = []*namedLoad{b, a}
	return b, a, nil
}

// newEventType returns a fresh event type for a phase's endpoints.
func newEventType() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "bench." + hex.EncodeToString(b[:])
}

// Package faultstore wraps a hookline.Store to inject faults into chosen
// calls, for tests of the delivery engine against a database that fails.
// A call can fail without running (the database refused it: nothing was
// written), or run and then fail (its reply was lost: what it wrote is
// committed, and the caller is told it failed). Calls without a fault pass
// through to the wrapped store.
//
//	fs := faultstore.New(store)
//	fs.LoseReply(faultstore.ClaimDue, 1) // the next ClaimDue claims, then errs
//	fs.Fail(faultstore.Unclaim, -1)      // every Unclaim errs, until Heal
package faultstore

import (
	"context"
	"sync"
	"time"

	"github.com/hookline/hookline"
)

var _ hookline.Store = (*Store)(nil)

// Op names a store method that faults can be injected into.
type Op string

// The methods faults can be injected into: those the engine calls on its
// own (the API's reads and endpoint changes pass through unchanged).
const (
	Ingest          Op = "Ingest"
	ReplayEvent     Op = "ReplayEvent"
	ClaimDue        Op = "ClaimDue"
	DueEndpoints    Op = "DueEndpoints"
	Unclaim         Op = "Unclaim"
	ResetClaims     Op = "ResetClaims"
	RecordOutcomes  Op = "RecordOutcomes"
	RetryDelivery   Op = "RetryDelivery"
	SaveHealth      Op = "SaveHealth"
	LoadHealth      Op = "LoadHealth"
	FindStaleClaims Op = "FindStaleClaims"
	RescueClaims    Op = "RescueClaims"
)

// Err is the error an injected fault returns: EUNAVAILABLE, as a store
// returns it when the database cannot be reached.
var Err error = hookline.Errorf(hookline.EUNAVAILABLE, "faultstore: injected fault")

// Store is a hookline.Store with faults on chosen calls. Its methods are
// safe for concurrent use.
type Store struct {
	hookline.Store

	mu     sync.Mutex
	faults map[Op]*fault
	calls  map[Op]int
	hits   map[Op]int
}

// fault is what the next calls of one method do.
type fault struct {
	n    int  // calls left to fault; negative: every call until Heal
	lose bool // run the call, then fail (a lost reply)
}

// New returns s with no fault injected yet.
func New(s hookline.Store) *Store {
	return &Store{Store: s, faults: make(map[Op]*fault), calls: make(map[Op]int), hits: make(map[Op]int)}
}

// Fail makes the next n calls of op fail without running; a negative n
// makes every call fail until Heal. It replaces an earlier fault of op.
func (s *Store) Fail(op Op, n int) { s.set(op, &fault{n: n}) }

// LoseReply makes the next n calls of op run and then fail, as if the
// database's reply was lost after it committed; a negative n does so until
// Heal. It replaces an earlier fault of op.
func (s *Store) LoseReply(op Op, n int) { s.set(op, &fault{n: n, lose: true}) }

// Heal removes the fault of op.
func (s *Store) Heal(op Op) { s.set(op, nil) }

func (s *Store) set(op Op, f *fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == nil || f.n == 0 {
		delete(s.faults, op)
		return
	}
	s.faults[op] = f
}

// Calls returns how many calls of op were made, faulted or not.
func (s *Store) Calls(op Op) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// Faults returns how many calls of op a fault was injected into.
func (s *Store) Faults(op Op) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[op]
}

// take counts a call of op and returns whether it faults and how.
func (s *Store) take(op Op) (faulted, lose bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	f := s.faults[op]
	if f == nil {
		return false, false
	}
	if f.n > 0 {
		if f.n--; f.n == 0 {
			delete(s.faults, op)
		}
	}
	s.hits[op]++
	return true, f.lose
}

// run calls fn under the fault of op, if any.
func (s *Store) run(op Op, fn func() error) error {
	faulted, lose := s.take(op)
	if faulted && !lose {
		return Err
	}
	err := fn()
	if faulted && err == nil {
		return Err
	}
	return err
}

// DueSignal passes on the wrapped store's signal of work made due by other
// nodes (PostgreSQL's); nil when it has none.
func (s *Store) DueSignal() <-chan struct{} {
	if d, ok := s.Store.(interface{ DueSignal() <-chan struct{} }); ok {
		return d.DueSignal()
	}
	return nil
}

// Ingest implements hookline.Store. A failed call leaves the requests as
// a store's failed transaction does: without results or tasks.
func (s *Store) Ingest(ctx context.Context, reqs []*hookline.IngestRequest, now time.Time) error {
	err := s.run(Ingest, func() error { return s.Store.Ingest(ctx, reqs, now) })
	if err != nil {
		for _, r := range reqs {
			r.Results, r.Tasks, r.Err = nil, nil, nil
		}
	}
	return err
}

// ReplayEvent implements hookline.Store.
func (s *Store) ReplayEvent(ctx context.Context, eventID string, claim bool, now time.Time) ([]*hookline.Task, error) {
	var tasks []*hookline.Task
	err := s.run(ReplayEvent, func() (err error) {
		tasks, err = s.Store.ReplayEvent(ctx, eventID, claim, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return tasks, nil
}

// ClaimDue implements hookline.Store.
func (s *Store) ClaimDue(ctx context.Context, reqs []hookline.ClaimRequest, now time.Time) ([]hookline.ClaimResult, error) {
	var res []hookline.ClaimResult
	err := s.run(ClaimDue, func() (err error) {
		res, err = s.Store.ClaimDue(ctx, reqs, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// DueEndpoints implements hookline.Store.
func (s *Store) DueEndpoints(ctx context.Context, partitions []int) ([]hookline.EndpointDue, error) {
	var due []hookline.EndpointDue
	err := s.run(DueEndpoints, func() (err error) {
		due, err = s.Store.DueEndpoints(ctx, partitions)
		return err
	})
	if err != nil {
		return nil, err
	}
	return due, nil
}

// Unclaim implements hookline.Store.
func (s *Store) Unclaim(ctx context.Context, deliveryIDs []string) error {
	return s.run(Unclaim, func() error { return s.Store.Unclaim(ctx, deliveryIDs) })
}

// ResetClaims implements hookline.Store.
func (s *Store) ResetClaims(ctx context.Context, partitions []int) error {
	return s.run(ResetClaims, func() error { return s.Store.ResetClaims(ctx, partitions) })
}

// RecordOutcomes implements hookline.Store.
func (s *Store) RecordOutcomes(ctx context.Context, outcomes []hookline.Outcome, now time.Time) error {
	return s.run(RecordOutcomes, func() error { return s.Store.RecordOutcomes(ctx, outcomes, now) })
}

// RetryDelivery implements hookline.Store.
func (s *Store) RetryDelivery(ctx context.Context, id string, now time.Time) (*hookline.Delivery, error) {
	var d *hookline.Delivery
	err := s.run(RetryDelivery, func() (err error) {
		d, err = s.Store.RetryDelivery(ctx, id, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// SaveHealth implements hookline.Store.
func (s *Store) SaveHealth(ctx context.Context, hs []hookline.EndpointHealth) error {
	return s.run(SaveHealth, func() error { return s.Store.SaveHealth(ctx, hs) })
}

// LoadHealth implements hookline.Store.
func (s *Store) LoadHealth(ctx context.Context, partitions []int) ([]hookline.EndpointHealth, error) {
	var hs []hookline.EndpointHealth
	err := s.run(LoadHealth, func() (err error) {
		hs, err = s.Store.LoadHealth(ctx, partitions)
		return err
	})
	if err != nil {
		return nil, err
	}
	return hs, nil
}

// FindStaleClaims implements hookline.Store.
func (s *Store) FindStaleClaims(ctx context.Context, f hookline.StaleClaimFilter) ([]string, error) {
	var ids []string
	err := s.run(FindStaleClaims, func() (err error) {
		ids, err = s.Store.FindStaleClaims(ctx, f)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// RescueClaims implements hookline.Store.
func (s *Store) RescueClaims(ctx context.Context, deliveryIDs []string, before time.Time) (int, error) {
	var n int
	err := s.run(RescueClaims, func() (err error) {
		n, err = s.Store.RescueClaims(ctx, deliveryIDs, before)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookline/hookline"
)

// The circuit states as stored.
const (
	circuitClosed   = 0
	circuitOpen     = 1
	circuitHalfOpen = 2
)

func circuitValue(c hookline.Circuit) int16 {
	switch c {
	case hookline.CircuitOpen:
		return circuitOpen
	case hookline.CircuitHalfOpen:
		return circuitHalfOpen
	}
	return circuitClosed
}

func circuitOf(v int16) hookline.Circuit {
	switch v {
	case circuitOpen:
		return hookline.CircuitOpen
	case circuitHalfOpen:
		return hookline.CircuitHalfOpen
	}
	return hookline.CircuitClosed
}

const healthColumns = `endpoint_id, circuit, consecutive_failures, failing_since, last_success_at,
	paused_until, opened_at, cooldown_us, updated_at`

// SaveHealth stores the health of endpoints in one statement, replacing
// what was saved; the health of endpoints that do not exist is dropped. It
// commits without waiting for the WAL to reach the disk: health is a hint
// that a crash may take back a moment.
func (s *Store) SaveHealth(ctx context.Context, hs []hookline.EndpointHealth) error {
	if len(hs) == 0 {
		return nil
	}
	n := len(hs)
	ids, parts, circuits, failures := make([]string, n), make([]int32, n), make([]int16, n), make([]int32, n)
	failing, success, paused, opened := make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
	cooldowns, updated := make([]int64, n), make([]time.Time, n)
	for i, h := range hs {
		ids[i], parts[i], circuits[i] = h.EndpointID, int32(hookline.PartitionOf(h.EndpointID)), circuitValue(h.Circuit)
		failures[i] = int32(h.ConsecutiveFailures)
		failing[i], success[i], paused[i] = truncatePtr(h.FailingSince), truncatePtr(h.LastSuccessAt), truncatePtr(h.PausedUntil)
		if !h.OpenedAt.IsZero() {
			t := truncate(h.OpenedAt)
			opened[i] = &t
		}
		cooldowns[i], updated[i] = h.Cooldown.Microseconds(), truncate(h.UpdatedAt)
	}
	return s.retry(ctx, "save health", func() error {
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		b.Queue(`SELECT set_config('synchronous_commit', 'off', true)`)
		// DISTINCT ON keeps the last health of an endpoint named twice;
		// ORDER BY endpoint_id locks rows in one order across writers.
		b.Queue(`INSERT INTO endpoint_health (endpoint_id, partition, circuit, consecutive_failures,
				failing_since, last_success_at, paused_until, opened_at, cooldown_us, updated_at)
			SELECT DISTINCT ON (h.endpoint_id) h.endpoint_id, h.partition, h.circuit, h.consecutive_failures,
				h.failing_since, h.last_success_at, h.paused_until, h.opened_at, h.cooldown_us, h.updated_at
			FROM unnest($1::text[], $2::int[], $3::smallint[], $4::int[],
				$5::timestamptz[], $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::bigint[], $10::timestamptz[])
				WITH ORDINALITY AS h (endpoint_id, partition, circuit, consecutive_failures, failing_since,
					last_success_at, paused_until, opened_at, cooldown_us, updated_at, ord)
			JOIN endpoints e ON e.id = h.endpoint_id AND e.deleted_at IS NULL
			ORDER BY h.endpoint_id, h.ord DESC
			ON CONFLICT (endpoint_id) DO UPDATE SET circuit = excluded.circuit,
				consecutive_failures = excluded.consecutive_failures, failing_since = excluded.failing_since,
				last_success_at = excluded.last_success_at, paused_until = excluded.paused_until,
				opened_at = excluded.opened_at, cooldown_us = excluded.cooldown_us, updated_at = excluded.updated_at`,
			ids, parts, circuits, failures, failing, success, paused, opened, cooldowns, updated)
		b.Queue("COMMIT")
		return s.sendTx(ctx, b)
	})
}

// FindHealth returns the saved health of one endpoint, the zero value when
// none was saved, or ENOTFOUND.
func (s *Store) FindHealth(ctx context.Context, endpointID string) (hookline.EndpointHealth, error) {
	var exists bool
	var h hookline.EndpointHealth
	rows, err := s.pool.Query(ctx, `SELECT EXISTS (SELECT 1 FROM endpoints WHERE id = $1 AND deleted_at IS NULL)`, endpointID)
	if err == nil {
		exists, err = pgx.CollectExactlyOneRow(rows, pgx.RowTo[bool])
	}
	if err != nil {
		return h, s.wrap("find health", err)
	} else if !exists {
		return h, endpointNotFound(endpointID)
	}
	h, err = scanHealth(s.pool.QueryRow(ctx, "SELECT "+healthColumns+" FROM endpoint_health WHERE endpoint_id = $1", endpointID))
	if errors.Is(err, pgx.ErrNoRows) {
		return hookline.EndpointHealth{EndpointID: endpointID}, nil
	} else if err != nil {
		return hookline.EndpointHealth{}, s.wrap("find health", err)
	}
	return h, nil
}

// LoadHealth returns the saved health of every endpoint of the given
// partitions (nil means all) that has one.
func (s *Store) LoadHealth(ctx context.Context, partitions []int) ([]hookline.EndpointHealth, error) {
	if partitions != nil && len(partitions) == 0 {
		return nil, nil
	}
	q, args := "SELECT "+healthColumns+" FROM endpoint_health", []any{}
	if partitions != nil {
		q, args = q+" WHERE partition = ANY($1::int[])", append(args, partitions)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("load health", err)
	}
	hs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (hookline.EndpointHealth, error) { return scanHealth(row) })
	if err != nil {
		return nil, s.wrap("load health", err)
	}
	return hs, nil
}

func scanHealth(row pgx.Row) (hookline.EndpointHealth, error) {
	var h hookline.EndpointHealth
	var circuit int16
	var failures int32
	var cooldown int64
	var opened *time.Time
	if err := row.Scan(&h.EndpointID, &circuit, &failures, &h.FailingSince, &h.LastSuccessAt, &h.PausedUntil,
		&opened, &cooldown, &h.UpdatedAt); err != nil {
		return h, err
	}
	h.Circuit, h.ConsecutiveFailures = circuitOf(circuit), int(failures)
	h.FailingSince, h.LastSuccessAt, h.PausedUntil = utcPtr(h.FailingSince), utcPtr(h.LastSuccessAt), utcPtr(h.PausedUntil)
	if opened != nil {
		h.OpenedAt = opened.UTC()
	}
	h.Cooldown = time.Duration(cooldown) * time.Microsecond
	h.UpdatedAt = h.UpdatedAt.UTC()
	return h, nil
}

func truncatePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := truncate(*t)
	return &v
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// EndpointCounts returns an endpoint's pending and failed deliveries, or
// ENOTFOUND. Pending ones are counted on deliveries_due (those not held in
// memory) and deliveries_claimed (those held: by partition, so few), failed
// ones on deliveries_failed_endpoint: the endpoint's delivered history is
// never read.
func (s *Store) EndpointCounts(ctx context.Context, endpointID string) (hookline.EndpointCounts, error) {
	var c hookline.EndpointCounts
	var exists bool
	var unclaimed, claimed int64
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM endpoints WHERE id = $1 AND deleted_at IS NULL),
		(SELECT count(*) FROM deliveries WHERE endpoint_id = $1 AND status = 0 AND NOT claimed),
		(SELECT count(*) FROM deliveries WHERE partition = $2 AND claimed AND endpoint_id = $1 AND status = 0),
		(SELECT count(*) FROM deliveries WHERE endpoint_id = $1 AND status = 2)`,
		endpointID, int32(hookline.PartitionOf(endpointID))).Scan(&exists, &unclaimed, &claimed, &c.Failed)
	if err != nil {
		return c, s.wrap("endpoint counts", err)
	} else if !exists {
		return hookline.EndpointCounts{}, endpointNotFound(endpointID)
	}
	c.Pending = unclaimed + claimed
	return c, nil
}

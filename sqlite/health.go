package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hookline/hookline"
)

// The circuit states as stored.
const (
	circuitClosed   = 0
	circuitOpen     = 1
	circuitHalfOpen = 2
)

func circuitValue(c hookline.Circuit) int64 {
	switch c {
	case hookline.CircuitOpen:
		return circuitOpen
	case hookline.CircuitHalfOpen:
		return circuitHalfOpen
	}
	return circuitClosed
}

func circuitOf(v int64) hookline.Circuit {
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

// SaveHealth stores the health of endpoints in one transaction, replacing
// what was saved; the health of endpoints that do not exist is dropped.
func (s *Store) SaveHealth(ctx context.Context, hs []hookline.EndpointHealth) error {
	if len(hs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var saved []hookline.EndpointHealth
	err := s.write(ctx, func(tx *sql.Tx) error {
		saved = saved[:0]
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO endpoint_health (`+healthColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (endpoint_id) DO UPDATE SET circuit = excluded.circuit,
			consecutive_failures = excluded.consecutive_failures, failing_since = excluded.failing_since,
			last_success_at = excluded.last_success_at, paused_until = excluded.paused_until,
			opened_at = excluded.opened_at, cooldown_us = excluded.cooldown_us, updated_at = excluded.updated_at`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, h := range hs {
			if s.endpoints.get(h.EndpointID) == nil {
				continue
			}
			if _, err := stmt.ExecContext(ctx, h.EndpointID, circuitValue(h.Circuit), int64(h.ConsecutiveFailures),
				nullMicros(h.FailingSince), nullMicros(h.LastSuccessAt), nullMicros(h.PausedUntil),
				zeroNullMicros(h.OpenedAt), h.Cooldown.Microseconds(), micros(h.UpdatedAt)); err != nil {
				return err
			}
			saved = append(saved, h)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: save health: %w", err)
	}
	for _, h := range saved {
		s.counts.setCircuit(h.EndpointID, h.Circuit)
	}
	return nil
}

// FindHealth returns the saved health of one endpoint, the zero value when
// none was saved, or ENOTFOUND.
func (s *Store) FindHealth(ctx context.Context, endpointID string) (hookline.EndpointHealth, error) {
	s.mu.Lock()
	known := s.endpoints.get(endpointID) != nil
	s.mu.Unlock()
	if !known {
		return hookline.EndpointHealth{}, endpointNotFound(endpointID)
	}
	h, err := scanHealth(s.rdb.QueryRowContext(ctx, "SELECT "+healthColumns+" FROM endpoint_health WHERE endpoint_id = ?", endpointID))
	if errors.Is(err, sql.ErrNoRows) {
		return hookline.EndpointHealth{EndpointID: endpointID}, nil
	} else if err != nil {
		return hookline.EndpointHealth{}, fmt.Errorf("sqlite: find health: %w", err)
	}
	return h, nil
}

// LoadHealth returns the saved health of every endpoint of the given
// partitions (nil means all) that has one.
func (s *Store) LoadHealth(ctx context.Context, partitions []int) ([]hookline.EndpointHealth, error) {
	if partitions != nil && len(partitions) == 0 {
		return nil, nil
	}
	mask := make([]bool, hookline.Partitions)
	for _, p := range partitions {
		if p >= 0 && p < hookline.Partitions {
			mask[p] = true
		}
	}
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+healthColumns+" FROM endpoint_health")
	if err != nil {
		return nil, fmt.Errorf("sqlite: load health: %w", err)
	}
	defer rows.Close()
	var out []hookline.EndpointHealth
	for rows.Next() {
		h, err := scanHealth(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: load health: %w", err)
		}
		if partitions == nil || mask[hookline.PartitionOf(h.EndpointID)] {
			out = append(out, h)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: load health: %w", err)
	}
	return out, nil
}

func scanHealth(row scanner) (hookline.EndpointHealth, error) {
	var h hookline.EndpointHealth
	var circuit, failures, cooldown, updated int64
	var failing, success, paused, opened sql.NullInt64
	if err := row.Scan(&h.EndpointID, &circuit, &failures, &failing, &success, &paused, &opened,
		&cooldown, &updated); err != nil {
		return h, err
	}
	h.Circuit, h.ConsecutiveFailures = circuitOf(circuit), int(failures)
	h.FailingSince, h.LastSuccessAt, h.PausedUntil = nullTime(failing), nullTime(success), nullTime(paused)
	if opened.Valid {
		h.OpenedAt = fromMicros(opened.Int64)
	}
	h.Cooldown = time.Duration(cooldown) * time.Microsecond
	h.UpdatedAt = fromMicros(updated)
	return h, nil
}

// nullMicros returns a time as stored, NULL for nil.
func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micros(*t)
}

// zeroNullMicros returns a time as stored, NULL for the zero time.
func zeroNullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micros(t)
}

package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/filter"
)

// This file holds the recovery tools: the list of events, counting and
// retrying deliveries by filter, and replaying what an endpoint missed.

// eventColumns are the columns of a hookline.Event.
const eventColumns = `id, tenant, type, data, created_at, deliveries, priority, ordering_key`

func scanEvent(row pgx.Row) (*hookline.Event, error) {
	var ev hookline.Event
	var data []byte
	var priority int16
	if err := row.Scan(&ev.ID, &ev.Tenant, &ev.Type, &data, &ev.CreatedAt, &ev.Deliveries, &priority, &ev.OrderingKey); err != nil {
		return nil, err
	}
	if len(data) > 0 {
		ev.Data = data
	}
	ev.Priority, ev.CreatedAt = int(priority), ev.CreatedAt.UTC()
	return &ev, nil
}

// FindEvents returns a page of events, newest first, on events_tenant_type,
// events_tenant, events_type or the primary key. A type pattern is the
// merge of one walk per type it matches, as in FindDeliveries; a time range
// is an ID range (and the exact times).
func (s *Store) FindEvents(ctx context.Context, f hookline.EventFilter) ([]*hookline.Event, string, error) {
	limit := pageLimit(f.Limit)
	types := []string{f.Type}
	if prefix, ok := hookline.TypePrefix(f.Type); ok {
		var err error
		if types, err = s.typesWithPrefix(ctx, queryEventTypes, "type", prefix); err != nil {
			return nil, "", err
		} else if len(types) == 0 {
			return nil, "", nil
		}
	}
	var c conds
	var parts []string
	for i, t := range types {
		if f.Tenant != nil {
			c.add("tenant = ?", *f.Tenant)
		}
		if t != "" {
			c.add(`type COLLATE "C" = ?`, t)
		}
		lo, hi := hookline.IDRange(hookline.EventPrefix, f.Since, f.Until)
		if lo != "" {
			c.add("id >= ? AND created_at >= ?", lo, truncate(f.Since))
		}
		if hi != "" {
			c.add("id < ? AND created_at < ?", hi, truncate(f.Until))
		}
		if f.Cursor != "" {
			c.add("id < ?", f.Cursor)
		}
		q := "SELECT " + eventColumns + " FROM events" + whereClause(c.where) + " ORDER BY id DESC LIMIT " + c.arg(limit+1)
		if len(types) > 1 {
			q = "SELECT * FROM (" + q + ") t" + strconv.Itoa(i)
		}
		parts, c.where = append(parts, q), nil
	}
	query := parts[0]
	if len(parts) > 1 {
		query = strings.Join(parts, " UNION ALL ") + " ORDER BY 1 DESC LIMIT " + c.arg(limit+1)
	}
	rows, err := s.pool.Query(ctx, query, c.args...)
	if err != nil {
		return nil, "", s.wrap("find events", err)
	}
	evs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*hookline.Event, error) { return scanEvent(row) })
	if err != nil {
		return nil, "", s.wrap("find events", err)
	}
	evs, next := paginate(evs, limit, func(ev *hookline.Event) string { return ev.ID })
	return evs, next, nil
}

// CountDeliveries returns how many deliveries f selects.
func (s *Store) CountDeliveries(ctx context.Context, f hookline.DeliveryFilter) (int64, error) {
	if f.Status != "" && !f.Status.Valid() {
		return 0, hookline.Errorf(hookline.EINVALID, "status: must be pending, delivered or failed")
	}
	f.Cursor = ""
	var c conds
	deliveryWhere(&c, f)
	var n int64
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM deliveries d"+whereClause(c.where), c.args...).Scan(&n); err != nil {
		return 0, s.wrap("count deliveries", err)
	}
	return n, nil
}

// RetryDeliveries makes up to limit of the failed deliveries f selects
// pending and due now, as RetryDelivery does, in one statement. A delivery
// another transaction changed meanwhile is made pending only if it is still
// failed.
func (s *Store) RetryDeliveries(ctx context.Context, f hookline.DeliveryFilter, limit int, now time.Time) (hookline.RetryResult, error) {
	if f.Status != hookline.StatusFailed {
		return hookline.RetryResult{}, hookline.Errorf(hookline.EINVALID, "status: must be failed")
	}
	if limit <= 0 {
		limit = hookline.DefaultRetryBatch
	}
	f.Cursor = ""
	var c conds
	deliveryWhere(&c, f)
	nowArg, limitArg := c.arg(truncate(now)), c.arg(limit)
	var res hookline.RetryResult
	err := s.retry(ctx, "retry deliveries", func() error {
		res = hookline.RetryResult{}
		rows, err := s.pool.Query(ctx, `WITH u AS (
				UPDATE deliveries SET status = 0, claimed = false, next_attempt_at = `+nowArg+`,
					schedule_offset = attempts, updated_at = `+nowArg+`, delivered_at = NULL, batch_id = NULL
				WHERE status = 2 AND id IN (SELECT d.id FROM deliveries d`+whereClause(c.where)+` LIMIT `+limitArg+`)
				RETURNING endpoint_id)
			SELECT endpoint_id, count(*) FROM u GROUP BY endpoint_id`, c.args...)
		if err != nil {
			return err
		}
		var id string
		var n int
		_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
			res.Requeued += n
			res.Endpoints = append(res.Endpoints, id)
			return nil
		})
		return err
	})
	if err != nil {
		return hookline.RetryResult{}, err
	}
	if res.Requeued > 0 {
		s.notify.due()
	}
	return res, nil
}

// replayLock is the first key of the advisory lock that one replay of an
// endpoint's missed events holds (the second is a hash of the endpoint ID),
// so that two replays of it at once take turns and cannot both make a
// delivery of one event.
const replayLock = 0x484c5250 // "HLRP"

// maxReplayBytes bounds the event data one page of ReplayMissing holds: a
// page ends early, at the event that passes it.
const maxReplayBytes = 16 << 20

// ReplayMissing examines, in one transaction, up to r.Limit events of the
// endpoint's tenant in the window after r.After, in ID order (on
// events_tenant), and writes an unclaimed pending delivery of each that the
// endpoint matches (its event types and payload filter, as at fan-out) and
// that has none to it (one seek of deliveries_event per event). The
// transaction holds the endpoint's replay lock, and the endpoints version FOR
// SHARE like ingest, so the endpoint cannot be deleted under it.
func (s *Store) ReplayMissing(ctx context.Context, r hookline.ReplayMissingRequest, now time.Time) (hookline.ReplayMissingPage, error) {
	limit := r.Limit
	if limit <= 0 {
		limit = hookline.DefaultReplayPage
	}
	now = truncate(now)
	var page hookline.ReplayMissingPage
	err := s.inTx(ctx, "replay missing", func(tx pgx.Tx) error {
		page = hookline.ReplayMissingPage{}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", int32(replayLock), r.EndpointID); err != nil {
			return err
		}
		if _, err := lockVersion(ctx, tx); err != nil {
			return err
		}
		ep, err := scanEndpoint(tx.QueryRow(ctx, "SELECT "+endpointColumns+" FROM endpoints WHERE id = $1 AND deleted_at IS NULL", r.EndpointID), s.box)
		if errors.Is(err, pgx.ErrNoRows) {
			return endpointNotFound(r.EndpointID)
		} else if err != nil {
			return err
		} else if ep.Disabled {
			return endpointDisabled(r.EndpointID)
		}
		evs, next, err := replayPage(ctx, tx, ep.Tenant, r, limit)
		if err != nil {
			return err
		}
		page.Next = next
		// The endpoint's types and payload filter decide, as at fan-out.
		sub := subscriber{ep: ep, partition: ep.Partition(), filter: filter.Stored(ep.Filter)}
		var docs filter.Docs
		var candidates []*hookline.Event
		var ids []string
		for _, ev := range evs {
			if sub.matches(ev, &docs) {
				candidates, ids = append(candidates, ev), append(ids, ev.ID)
			}
		}
		if len(candidates) == 0 {
			return nil
		}
		rows, err := tx.Query(ctx, `SELECT DISTINCT event_id FROM deliveries WHERE event_id = ANY($1) AND endpoint_id = $2`,
			ids, ep.ID)
		if err != nil {
			return err
		}
		had, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		have := make(map[string]bool, len(had))
		for _, id := range had {
			have[id] = true
		}
		var d deliveryRows
		partition := int32(sub.partition)
		for _, ev := range candidates {
			if have[ev.ID] {
				continue
			}
			var okey *string
			if ep.FIFO() {
				okey = &ev.OrderingKey
			}
			d.id, d.eventID, d.endpointID = append(d.id, hookline.NewID(hookline.DeliveryPrefix, now)), append(d.eventID, ev.ID), append(d.endpointID, ep.ID)
			d.partition, d.claimed = append(d.partition, partition), append(d.claimed, false)
			d.priority, d.okey, d.eventType = append(d.priority, int16(hookline.ClampPriority(ev.Priority))), append(d.okey, okey), append(d.eventType, ev.Type)
			page.Created++
		}
		b := &pgx.Batch{}
		queueDeliveries(b, &d, now, true, s.owner)
		if b.Len() == 0 {
			return nil
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return hookline.ReplayMissingPage{}, err
	}
	if page.Created > 0 {
		s.notify.due()
	}
	return page, nil
}

// replayPage reads the events of one page of ReplayMissing, and the After
// of the next page ("" when the window is done).
func replayPage(ctx context.Context, tx pgx.Tx, tenant string, r hookline.ReplayMissingRequest, limit int) ([]*hookline.Event, string, error) {
	var c conds
	c.add("tenant = ?", tenant)
	lo, hi := hookline.IDRange(hookline.EventPrefix, r.Since, r.Until)
	if lo != "" {
		c.add("id >= ? AND created_at >= ?", lo, truncate(r.Since))
	}
	if hi != "" {
		c.add("id < ? AND created_at < ?", hi, truncate(r.Until))
	}
	if r.After != "" {
		c.add("id > ?", r.After)
	}
	rows, err := tx.Query(ctx, "SELECT "+eventColumns+" FROM events"+whereClause(c.where)+" ORDER BY id LIMIT "+c.arg(limit), c.args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var evs []*hookline.Event
	size := 0
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, "", err
		}
		evs = append(evs, ev)
		if size += len(ev.Data); size > maxReplayBytes {
			break
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(evs) == limit || size > maxReplayBytes {
		next = evs[len(evs)-1].ID
	}
	return evs, next, nil
}

// endpointDisabled is the error of a replay to a disabled endpoint.
func endpointDisabled(id string) error {
	return hookline.Errorf(hookline.ECONFLICT, "endpoint %s is disabled: enable it first (PATCH {\"disabled\": false}), or its new deliveries would fail at once", id)
}

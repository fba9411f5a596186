package sqlite

import (
	"fmt"
	"strings"

	"github.com/hookline/hookline"
)

// The due work of an endpoint: its pending, unclaimed deliveries, in
// deliveries_due_lane (schema_v13.sql), one lane a priority, each in due
// order. Work is taken in order of due time less priority × PriorityStep
// (the aging of priorities), so a claim merges the lanes' heads, and an
// endpoint's next due time is the least of its lanes' first entries. Rows
// hold priorities MinPriority to MaxPriority only (fanOut clamps them), so
// the lanes are those.

// priorityStepUS is hookline.PriorityStep in µs, the unit of the store's
// times.
const priorityStepUS = int64(hookline.PriorityStep / 1000)

// noDue stands for a lane with no row in nextDueOf: larger than any time.
const noDue = "9223372036854775807"

// nextDueOf returns the expression of the least next_attempt_at of the due
// work of endpoint (an SQL expression), NULL when it has none: one seek of
// deliveries_due_lane a priority.
func nextDueOf(endpoint string) string {
	lanes := make([]string, 0, hookline.MaxPriority-hookline.MinPriority+1)
	for p := hookline.MinPriority; p <= hookline.MaxPriority; p++ {
		lanes = append(lanes, fmt.Sprintf(`coalesce((SELECT min(next_attempt_at) FROM deliveries INDEXED BY deliveries_due_lane
		WHERE endpoint_id = %s AND priority = %d AND status = 0 AND claimed = 0), %s)`, endpoint, p, noDue))
	}
	return "nullif(min(" + strings.Join(lanes, ",\n\t") + "), " + noDue + ")"
}

// claimDueQuery claims up to ?3 of the due work of endpoint ?1 that is due
// at ?2, in the order work is taken, and returns what a task needs. Each
// lane gives its first ?3 due rows; the merge keeps the first ?3 of them all.
func claimDueQuery() string {
	lanes := make([]string, 0, hookline.MaxPriority-hookline.MinPriority+1)
	for p := hookline.MaxPriority; p >= hookline.MinPriority; p-- {
		lanes = append(lanes, fmt.Sprintf(`SELECT id, next_attempt_at - %d AS k FROM (SELECT id, next_attempt_at
		FROM deliveries INDEXED BY deliveries_due_lane
		WHERE endpoint_id = ?1 AND priority = %d AND status = 0 AND claimed = 0 AND next_attempt_at <= ?2
		ORDER BY next_attempt_at LIMIT ?3)`, int64(p)*priorityStepUS, p))
	}
	return `UPDATE deliveries SET claimed = 1
	WHERE id IN (SELECT id FROM (` + strings.Join(lanes, "\n\tUNION ALL ") + `) ORDER BY k, id LIMIT ?3)
	RETURNING id, event_id, partition, attempts, schedule_offset, next_attempt_at, priority, seq, okey, batch_id`
}

var (
	queryClaimDue = claimDueQuery()

	queryNextDue = "SELECT " + nextDueOf("?1")

	// queryDueEndpoints is a loose index scan of deliveries_due_lane: each
	// step seeks the first entry of the next endpoint, so it costs one seek
	// per endpoint with unclaimed work (and one a priority for its next due
	// time), however many deliveries each has. Deleted endpoints, whose
	// deliveries wait for PurgeDeleted, are left out.
	queryDueEndpoints = `WITH RECURSIVE ep(id) AS (
		SELECT (SELECT min(endpoint_id) FROM deliveries INDEXED BY deliveries_due_lane
			WHERE status = 0 AND claimed = 0)
		UNION ALL
		SELECT (SELECT min(endpoint_id) FROM deliveries INDEXED BY deliveries_due_lane
			WHERE status = 0 AND claimed = 0 AND endpoint_id > ep.id)
		FROM ep WHERE ep.id IS NOT NULL)
	SELECT ep.id, ` + nextDueOf("ep.id") + `
	FROM ep WHERE ep.id IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM endpoints p WHERE p.id = ep.id AND p.deleted_at IS NOT NULL)`
)

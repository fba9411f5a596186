package delivery

import (
	"time"

	"github.com/hookline/hookline"
)

// taskQueue is an endpoint's tasks in memory, in the order they are taken:
//
//   - by priority with aging: the task whose due time less its priority ×
//     PriorityStep is earliest goes first (one FIFO ring per priority, so
//     taking the next compares at most ten heads);
//   - for a fifo endpoint, by key instead: the store hands out one
//     delivery of a key at a time (a run of one batch when batched), and
//     the queue keeps each key's tasks together, in accepted order;
//   - a batch being retried stays whole, under its batch ID.
type taskQueue struct {
	levels  [hookline.MaxPriority + 1]ring[*hookline.Task]
	keys    ring[string]                // fifo: keys in the order they came
	byKey   map[string][]*hookline.Task // fifo: each key's tasks, in accepted order
	batches map[string][]*hookline.Task // batches being retried, whole
	order   ring[string]                // batch IDs in the order they came
	n       int
}

func (q *taskQueue) len() int { return q.n }

// push adds a task. Tasks of a fifo endpoint go by key.
func (q *taskQueue) push(t *hookline.Task, fifo bool) {
	q.n++
	switch {
	case t.BatchID != "" && !fifo:
		if q.batches == nil {
			q.batches = make(map[string][]*hookline.Task)
		}
		if _, ok := q.batches[t.BatchID]; !ok {
			q.order.push(t.BatchID)
		}
		q.batches[t.BatchID] = append(q.batches[t.BatchID], t)
	case fifo:
		if q.byKey == nil {
			q.byKey = make(map[string][]*hookline.Task)
		}
		line, ok := q.byKey[t.OrderingKey]
		if !ok {
			q.keys.push(t.OrderingKey)
		}
		// Tasks of a key come in accepted order; keep it if they do not.
		i := len(line)
		for i > 0 && line[i-1].Seq > t.Seq {
			i--
		}
		line = append(line, nil)
		copy(line[i+1:], line[i:])
		line[i] = t
		q.byKey[t.OrderingKey] = line
	default:
		q.levels[hookline.ClampPriority(t.Priority)].push(t)
	}
}

// takeAt returns the time a task is taken at: its due time less its
// priority's head start.
func takeAt(t *hookline.Task) time.Time {
	return t.Due.Add(-time.Duration(hookline.ClampPriority(t.Priority)) * hookline.PriorityStep)
}

// next returns the level whose head goes first, -1 when the levels are
// empty.
func (q *taskQueue) next() int {
	best := -1
	var at time.Time
	for p := len(q.levels) - 1; p >= 0; p-- {
		if q.levels[p].len() == 0 {
			continue
		}
		if h := takeAt(q.levels[p].peek()); best < 0 || h.Before(at) {
			best, at = p, h
		}
	}
	return best
}

// headPriority returns the priority of the task taken next, and the
// default when that is a batch being retried or a fifo key's (order wins
// over priority there) or the queue is empty.
func (q *taskQueue) headPriority() int {
	if len(q.batches) > 0 || q.keys.len() > 0 {
		return hookline.DefaultPriority
	}
	if p := q.next(); p >= 0 {
		return q.levels[p].peek().Priority
	}
	return hookline.DefaultPriority
}

// take removes and returns the tasks of the next request: a batch being
// retried, whole; else a fifo key's tasks (up to max); else up to max tasks
// in priority order. It returns nil when the queue is empty.
func (q *taskQueue) take(max int) []*hookline.Task {
	for q.order.len() > 0 {
		id := q.order.pop()
		if b, ok := q.batches[id]; ok {
			delete(q.batches, id)
			q.n -= len(b)
			return b
		}
	}
	for q.keys.len() > 0 {
		key := q.keys.pop()
		line, ok := q.byKey[key]
		if !ok {
			continue
		}
		n := min(len(line), max)
		out := line[:n:n]
		if n == len(line) {
			delete(q.byKey, key)
		} else {
			q.byKey[key] = line[n:]
			q.keys.push(key) // the rest comes later, after other keys
		}
		q.n -= n
		return out
	}
	var out []*hookline.Task
	for len(out) < max {
		p := q.next()
		if p < 0 {
			break
		}
		out = append(out, q.levels[p].pop())
	}
	q.n -= len(out)
	return out
}

// ready reports whether a batch is worth sending now: a batch being retried
// or a fifo run waits for nothing; fresh tasks wait until there are max of
// them or the oldest has waited wait. Otherwise at is when to look again.
func (q *taskQueue) ready(max int, wait time.Duration, now time.Time) (ok bool, at time.Time) {
	if q.order.len() > 0 || q.keys.len() > 0 || q.n >= max {
		return q.n > 0, time.Time{}
	}
	var oldest time.Time
	for p := range q.levels {
		if q.levels[p].len() > 0 {
			if d := q.levels[p].peek().Due; oldest.IsZero() || d.Before(oldest) {
				oldest = d
			}
		}
	}
	if oldest.IsZero() {
		return false, time.Time{}
	}
	if at := oldest.Add(wait); now.Before(at) {
		return false, at
	}
	return true, time.Time{}
}

// drain removes and returns every task.
func (q *taskQueue) drain() []*hookline.Task {
	var out []*hookline.Task
	q.filter(func(*hookline.Task) bool { return false }, func(t *hookline.Task) { out = append(out, t) })
	return out
}

// filter keeps the tasks for which keep is true and passes the others to
// removed.
func (q *taskQueue) filter(keep func(*hookline.Task) bool, removed func(*hookline.Task)) {
	for p := range q.levels {
		for n := q.levels[p].len(); n > 0; n-- {
			t := q.levels[p].pop()
			if keep(t) {
				q.levels[p].push(t)
			} else {
				q.n--
				removed(t)
			}
		}
	}
	// A fifo key's tasks and a batch go or stay together, by their first.
	for key, line := range q.byKey {
		if !keep(line[0]) {
			delete(q.byKey, key)
			q.n -= len(line)
			for _, t := range line {
				removed(t)
			}
		}
	}
	for id, b := range q.batches {
		if !keep(b[0]) {
			delete(q.batches, id)
			q.n -= len(b)
			for _, t := range b {
				removed(t)
			}
		}
	}
}

package delivery

import "github.com/hookline/hookline"

// tenantJobs holds the ingest jobs waiting for a group commit, queued per
// tenant, and forms each group by taking one job of each waiting tenant in
// turn: a tenant that floods ingest with requests makes its own requests
// wait, not another tenant's, which goes in the next group whatever is
// queued before it. Within a tenant, jobs keep the order they came in (the
// order of their commits, which FIFO endpoints and idempotency rely on).
type tenantJobs struct {
	queues map[string]*jobQueue
	turn   []*jobQueue // tenants with jobs waiting, next first
	n      int
}

// jobQueue is one tenant's waiting jobs.
type jobQueue struct {
	tenant string
	jobs   []*ingestJob
	head   int
}

// tenantOf returns the tenant a job is counted against: its first event's
// (a request's events are one tenant's when a tenant key sent them).
func tenantOf(j *ingestJob) string {
	if len(j.req.Events) == 0 {
		return ""
	}
	return j.req.Events[0].Tenant
}

// len returns how many jobs wait.
func (q *tenantJobs) len() int { return q.n }

// push queues a job behind its tenant's others.
func (q *tenantJobs) push(j *ingestJob) {
	if q.queues == nil {
		q.queues = make(map[string]*jobQueue)
	}
	t := tenantOf(j)
	tq := q.queues[t]
	if tq == nil {
		tq = &jobQueue{tenant: t}
		q.queues[t] = tq
	}
	if tq.head == len(tq.jobs) {
		q.turn = append(q.turn, tq)
	}
	tq.jobs = append(tq.jobs, j)
	q.n++
}

// group appends to dst the jobs of the next group commit: one of each
// waiting tenant in turn, until the group holds maxEvents events or
// maxBytes bytes of their data (it holds at least one job, whatever its
// size). The tenant after the last one served goes first next time.
func (q *tenantJobs) group(dst []*ingestJob, maxEvents, maxBytes int) []*ingestJob {
	events, bytes := 0, 0
	for len(q.turn) > 0 && (len(dst) == 0 || events < maxEvents && bytes < maxBytes) {
		tq := q.turn[0]
		q.turn = q.turn[1:]
		j := tq.jobs[tq.head]
		tq.jobs[tq.head] = nil
		tq.head++
		q.n--
		if tq.head < len(tq.jobs) {
			q.turn = append(q.turn, tq)
		} else {
			delete(q.queues, tq.tenant)
		}
		dst = append(dst, j)
		events, bytes = events+len(j.req.Events), bytes+dataBytes(j.req.Events)
	}
	return dst
}

// requests returns the requests of jobs, in dst.
func requests(dst []*hookline.IngestRequest, jobs []*ingestJob) []*hookline.IngestRequest {
	for _, j := range jobs {
		dst = append(dst, j.req)
	}
	return dst
}

package hookline

// Stats is the answer of GET /v1/stats.
type Stats struct {
	StoreStats
	// DeliveriesPerSecond is the rate of successful deliveries over the last
	// minute, on this node.
	DeliveriesPerSecond float64 `json:"deliveries_per_second"`
	// LatencyMS holds percentiles of the time from an event's acceptance to
	// its successful delivery, over the last minute, in milliseconds.
	LatencyMS Percentiles `json:"latency_ms"`
	// SuccessRate is the share of attempts over the last minute that
	// succeeded, from 0 to 1; 1 when there were none.
	SuccessRate float64 `json:"success_rate"`
	// Node describes this node's share of the work.
	Node NodeStats `json:"node"`
}

// Percentiles of a latency distribution, in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// NodeStats describe one node of Hookline.
type NodeStats struct {
	ID         string `json:"id"`
	Partitions int    `json:"partitions"` // how many partitions this node owns
	InMemory   int    `json:"in_memory"`  // deliveries queued or in flight here
	InFlight   int    `json:"in_flight"`  // HTTP requests under way here
}

// EndpointStats is the answer of GET /v1/endpoints/{id}/stats. The rate,
// success rate and latency cover the last minute; attempts and failures the
// last hour; pending and failed are counts now.
type EndpointStats struct {
	// DeliveriesPerSecond is the rate of successful attempts over the last
	// minute.
	DeliveriesPerSecond float64 `json:"deliveries_per_second"`
	// SuccessRate is the share of attempts over the last minute that
	// succeeded, from 0 to 1; 1 when there were none.
	SuccessRate float64 `json:"success_rate"`
	// LatencyMS holds percentiles of the time from an event's acceptance to
	// its successful delivery to this endpoint, over the last minute.
	LatencyMS Percentiles `json:"latency_ms"`
	// Attempts and Failures count the attempts of the last hour.
	Attempts int64 `json:"attempts"`
	Failures int64 `json:"failures"`
	// Pending and Failed count the endpoint's deliveries now.
	Pending int64 `json:"pending"`
	Failed  int64 `json:"failed"`
	// Node is the node that answered; Live reports whether it dispatches
	// the endpoint (with PostgreSQL, the partition owner keeps the rates and
	// latencies; another node reports zeros for them).
	Node string `json:"node"`
	Live bool   `json:"live"`
}

// TenantStats is the answer of GET /v1/stats to an API key of one tenant:
// the figures of that tenant's endpoints only, summed over them. Pending
// and failed are counts now; the rate covers the last minute; attempts,
// failures and the success rate the last hour. Nothing in it describes
// other tenants or the nodes.
type TenantStats struct {
	Tenant             string        `json:"tenant"`
	Endpoints          int64         `json:"endpoints"`
	EndpointsDisabled  int64         `json:"endpoints_disabled"`
	EndpointsByCircuit CircuitCounts `json:"endpoints_by_circuit"`
	Pending            int64         `json:"pending"`
	Failed             int64         `json:"failed"`
	// DeliveriesPerSecond is the rate of successful attempts over the last
	// minute.
	DeliveriesPerSecond float64 `json:"deliveries_per_second"`
	Attempts            int64   `json:"attempts"`
	Failures            int64   `json:"failures"`
	// SuccessRate is 1 - failures/attempts over the last hour; 1 when there
	// were none.
	SuccessRate float64 `json:"success_rate"`
}

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

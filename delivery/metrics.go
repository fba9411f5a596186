package delivery

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookline/hookline/internal/sender"
)

// metrics are the engine's Prometheus collectors. Labelled series are
// resolved once, so the hot path only adds to a counter.
type metrics struct {
	eventsIngested prometheus.Counter
	ingestGroups   prometheus.Histogram
	attempts       map[string]prometheus.Counter
	attemptSeconds prometheus.Histogram
	latencySeconds prometheus.Histogram
	outcomeBatches prometheus.Histogram
	claims         prometheus.Counter
	ingestWrite    prometheus.Observer
	outcomeWrite   prometheus.Observer

	circuitOpened   prometheus.Counter
	circuitClosed   prometheus.Counter
	pauses          prometheus.Counter
	disabled        *prometheus.CounterVec
	opEvents        *prometheus.CounterVec
	opEventsDropped prometheus.Counter
	purged          prometheus.Counter
	endpointVersion prometheus.Gauge

	aborted         prometheus.Counter     // attempts aborted: partition revoked, hard stop
	outcomesDropped *prometheus.CounterVec // outcomes the store's fence dropped, by reason
	rescued         prometheus.Counter     // stale claims the rescuer freed
	// poison counts what a store write or read failed on alone, and was
	// put off (claim) or dropped (outcome) so as not to stall the rest.
	poison *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, e *Engine) *metrics {
	m := &metrics{
		eventsIngested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookline_events_ingested_total", Help: "Events accepted (202) and committed.",
		}),
		ingestGroups: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hookline_ingest_group_requests", Help: "API requests sharing one group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		attemptSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hookline_attempt_duration_seconds", Help: "Duration of delivery attempts.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		latencySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hookline_delivery_latency_seconds", Help: "Time from an event's acceptance to its successful delivery.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 20),
		}),
		outcomeBatches: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hookline_outcome_batch_size", Help: "Attempt outcomes written per transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		claims: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookline_deliveries_claimed_total", Help: "Deliveries paged in from the store (retries, overflow, recovery).",
		}),
		attempts: map[string]prometheus.Counter{},
		circuitOpened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookline_circuit_opened_total", Help: "Endpoint circuits opened (consecutive failures reached --breaker-failures).",
		}),
		circuitClosed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookline_circuit_closed_total", Help: "Endpoint circuits closed again by a successful attempt.",
		}),
		pauses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookline_retry_after_pauses_total", Help: "Endpoints paused by a receiver's Retry-After (429 or 503).",
		}),
		disabled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookline_endpoints_auto_disabled_total", Help: "Endpoints disabled by Hookline, by reason (failing, gone).",
		}, []string{"reason"}),
		opEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookline_operational_events_total", Help: "Operational events raised, by type.",
		}, []string{"type"}),
		opEventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookline_operational_events_dropped_total", Help: "Operational events dropped: queue full or store unavailable.",
		}),
		purged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookline_deleted_endpoint_deliveries_purged_total", Help: "Deliveries of deleted endpoints purged by this node.",
		}),
		endpointVersion: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hookline_endpoint_version", Help: "The latest endpoint write (store Version) this node has applied.",
		}),
		poison: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookline_store_poison_total",
			Help: "Store calls that failed on one item alone, other than for an unavailable store: claim (an endpoint whose deliveries could not be claimed, put off a minute) and outcome (an outcome that could not be written, dropped; its delivery stays claimed).",
		}, []string{"what"}),
	}
	m.aborted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hookline_attempts_aborted_total",
		Help: "Attempts aborted before an answer (their partition lost or at risk, a hard stop); handed back, not recorded.",
	})
	m.outcomesDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookline_outcomes_dropped_total",
		Help: "Attempt outcomes the store did not write, by reason (gone, settled, not_held, collision, stale).",
	}, []string{"reason"})
	m.rescued = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hookline_claims_rescued_total",
		Help: "Stale claims freed by the rescuer (a failed unclaim, a lost reply, a node that died).",
	})
	writes := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hookline_store_write_seconds", Help: "Duration of batched store writes, commit included.",
		Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16),
	}, []string{"op"})
	m.ingestWrite, m.outcomeWrite = writes.WithLabelValues("ingest"), writes.WithLabelValues("outcomes")
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookline_delivery_attempts_total", Help: "Delivery attempts by outcome.",
	}, []string{"outcome"})
	for _, k := range sender.Kinds {
		m.attempts[k] = attempts.WithLabelValues(k)
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	reg.MustRegister(m.eventsIngested, m.ingestGroups, m.attemptSeconds, m.latencySeconds,
		m.outcomeBatches, m.claims, attempts, writes,
		m.circuitOpened, m.circuitClosed, m.pauses, m.disabled, m.opEvents, m.opEventsDropped, m.poison,
		m.purged, m.endpointVersion,
		m.aborted, m.outcomesDropped, m.rescued,
		&schedCollector{s: e.sched},
		gauge("hookline_deliveries_pending", "Pending deliveries (the durable backlog, cluster-wide).",
			func() float64 { return float64(e.pending.Load()) }),
		gauge("hookline_deliveries_dead_letter", "Failed deliveries (the dead-letter state), refreshed every 10 s.",
			func() float64 { return float64(e.cachedStats().Failed) }),
		gauge("hookline_deliveries_in_memory", "Deliveries queued or in flight on this node.",
			func() float64 { h, _ := e.sched.counts(); return float64(h) }),
		gauge("hookline_deliveries_in_flight", "HTTP requests under way on this node.",
			func() float64 { _, f := e.sched.counts(); return float64(f) }),
		gauge("hookline_partitions_owned", "Partitions this node owns.",
			func() float64 { return float64(e.ownedCount()) }),
	)
	return m
}

func (m *metrics) ingested(events, requests int) {
	m.eventsIngested.Add(float64(events))
	m.ingestGroups.Observe(float64(requests))
}

func (m *metrics) attempt(kind string, d time.Duration) {
	m.attempts[kind].Inc()
	m.attemptSeconds.Observe(d.Seconds())
}

func (m *metrics) delivered(latency time.Duration) { m.latencySeconds.Observe(latency.Seconds()) }

func (m *metrics) outcomeBatch(n int) { m.outcomeBatches.Observe(float64(n)) }

func (m *metrics) claimed(n int) { m.claims.Add(float64(n)) }

// schedCollector reports the scheduler's per-endpoint state at scrape time:
// endpoints by circuit state, those paused, and the adaptive limits of the
// endpoints whose limits are lowered (one series each, so the cardinality
// is that of the endpoints in trouble, not of all endpoints).
type schedCollector struct{ s *scheduler }

var (
	circuitDesc = prometheus.NewDesc("hookline_endpoints_circuit",
		"Endpoints held by this node, by circuit state.", []string{"state"}, nil)
	pausedDesc = prometheus.NewDesc("hookline_endpoints_paused",
		"Endpoints held back by a receiver's Retry-After now.", nil, nil)
	concDesc = prometheus.NewDesc("hookline_endpoint_adaptive_concurrency",
		"Adaptive limit on requests in flight, for endpoints below their max_in_flight.", []string{"endpoint"}, nil)
	rateDesc = prometheus.NewDesc("hookline_endpoint_adaptive_rate",
		"Adaptive send rate (requests/s), for endpoints whose receiver pushed back.", []string{"endpoint"}, nil)
)

// Describe implements prometheus.Collector.
func (c *schedCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- circuitDesc
	ch <- pausedDesc
	ch <- concDesc
	ch <- rateDesc
}

// Collect implements prometheus.Collector.
func (c *schedCollector) Collect(ch chan<- prometheus.Metric) {
	counts, paused := c.s.circuitCounts()
	ch <- prometheus.MustNewConstMetric(circuitDesc, prometheus.GaugeValue, float64(counts.Closed), "closed")
	ch <- prometheus.MustNewConstMetric(circuitDesc, prometheus.GaugeValue, float64(counts.Open), "open")
	ch <- prometheus.MustNewConstMetric(circuitDesc, prometheus.GaugeValue, float64(counts.HalfOpen), "half_open")
	ch <- prometheus.MustNewConstMetric(pausedDesc, prometheus.GaugeValue, float64(paused))
	for _, l := range c.s.limitedEndpoints() {
		if l.concurrency < l.max {
			ch <- prometheus.MustNewConstMetric(concDesc, prometheus.GaugeValue, float64(l.concurrency), l.id)
		}
		if l.rate > 0 {
			ch <- prometheus.MustNewConstMetric(rateDesc, prometheus.GaugeValue, l.rate, l.id)
		}
	}
}

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
	}
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
		gauge("hookline_deliveries_pending", "Pending deliveries (the durable backlog, cluster-wide).",
			func() float64 { return float64(e.pending.Load()) }),
		gauge("hookline_deliveries_dead_letter", "Failed deliveries (the dead-letter state), refreshed every 10 s.",
			func() float64 { return float64(e.cachedStats().Failed) }),
		gauge("hookline_deliveries_in_memory", "Deliveries queued or in flight on this node.",
			func() float64 { h, _ := e.dispatcher.counts(); return float64(h) }),
		gauge("hookline_deliveries_in_flight", "HTTP requests under way on this node.",
			func() float64 { _, f := e.dispatcher.counts(); return float64(f) }),
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

package consumers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the delivery metrics of SPEC's table.
type Metrics struct {
	Invocations *prometheus.CounterVec   // eventrouter_invocations_total{consumer,result}
	Attempts    *prometheus.CounterVec   // eventrouter_invocation_attempts_total{consumer,result}
	Duration    *prometheus.HistogramVec // eventrouter_invocation_duration_seconds{consumer}
	Latency     *prometheus.HistogramVec // eventrouter_ingestion_to_invocation_seconds{consumer}
	DLQ         *prometheus.CounterVec   // eventrouter_dlq_events_total{consumer,reason}
}

// NewMetrics creates the delivery metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_invocations_total",
			Help: "Events handed to a consumer, by final result: success, failed (gave up), dlq (dead-lettered).",
		}, []string{"consumer", "result"}),
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_invocation_attempts_total",
			Help: "Delivery attempts, by result: success, retry (failed, will retry), error (failed for good).",
		}, []string{"consumer", "result"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "eventrouter_invocation_duration_seconds",
			Help:    "Time one delivery attempt took.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"consumer"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "eventrouter_ingestion_to_invocation_seconds",
			Help:    "Time from ingestion to successful delivery, retries included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 120, 600, 3600, 21600, 86400},
		}, []string{"consumer"}),
		DLQ: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_dlq_events_total",
			Help: "Events that could not be delivered, by reason (permanent_error, max_attempts, max_event_age, max_backlog; dropped_* without a DLQ).",
		}, []string{"consumer", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.Invocations, m.Attempts, m.Duration, m.Latency, m.DLQ)
	}
	return m
}

// init creates a consumer's series at zero, so that the first failure is
// an increase a rate() or an alert can see, and dashboards show 0, not
// "no data", for a consumer that has done nothing yet.
func (m *Metrics) init(consumer string) {
	if m == nil {
		return
	}
	for _, r := range []string{"success", "failed", "dlq"} {
		m.Invocations.WithLabelValues(consumer, r)
	}
	for _, r := range []string{"success", "retry", "error"} {
		m.Attempts.WithLabelValues(consumer, r)
	}
	for _, r := range []string{"permanent_error", "max_attempts", "max_event_age", "max_backlog"} {
		m.DLQ.WithLabelValues(consumer, r)
	}
	m.Duration.WithLabelValues(consumer)
	m.Latency.WithLabelValues(consumer)
}

func (m *Metrics) attempt(consumer string, took time.Duration) {
	if m != nil {
		m.Duration.WithLabelValues(consumer).Observe(took.Seconds())
	}
}

func (m *Metrics) success(consumer string, sinceIngest time.Duration) {
	if m != nil {
		m.Attempts.WithLabelValues(consumer, "success").Inc()
		m.Invocations.WithLabelValues(consumer, "success").Inc()
		m.Latency.WithLabelValues(consumer).Observe(sinceIngest.Seconds())
	}
}

func (m *Metrics) retry(consumer string) {
	if m != nil {
		m.Attempts.WithLabelValues(consumer, "retry").Inc()
	}
}

func (m *Metrics) failed(consumer string) {
	if m != nil {
		m.Attempts.WithLabelValues(consumer, "error").Inc()
	}
}

// DeadLettered counts an event put in a consumer's DLQ, or dropped for
// want of one (reason dropped_*), by someone else than the consumer: the
// router, when the consumer's queue is at its max_backlog.
func (m *Metrics) DeadLettered(consumer, reason string) { m.dlq(consumer, reason) }

func (m *Metrics) dlq(consumer, reason string) {
	if m == nil {
		return
	}
	result := "dlq"
	if len(reason) > 8 && reason[:8] == "dropped_" {
		result = "failed"
	}
	m.Invocations.WithLabelValues(consumer, result).Inc()
	m.DLQ.WithLabelValues(consumer, reason).Inc()
}

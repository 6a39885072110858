package query

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a request, as metric label values.
const (
	outcomeOK         = "ok"
	outcomeBadRequest = "bad_request"
	outcomeNotFound   = "not_found"
	outcomeTimeout    = "timeout"
	outcomeError      = "error"
)

// Metrics are the query service's Prometheus collectors. A nil *Metrics
// records nothing.
type Metrics struct {
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	revocations *prometheus.CounterVec
}

// NewMetrics creates the query service's collectors and registers them on
// reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clientele_query_requests_total",
			Help: "Query requests handled, by transport, operation and outcome.",
		}, []string{"transport", "op", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "clientele_query_duration_seconds",
			Help:    "Time to handle a query request, by transport and operation.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 3, 12),
		}, []string{"transport", "op"}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clientele_revocations_total",
			Help: "Clients revoked, by outcome: revoked, or password_reset_required when password access remains.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.latency, m.revocations)
	return m
}

// Observe records one request of transport ("nats" or "xmpp").
func (m *Metrics) Observe(transport, op, outcome string, start time.Time) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(transport, op, outcome).Inc()
	m.latency.WithLabelValues(transport, op).Observe(time.Since(start).Seconds())
}

func (m *Metrics) observe(op, outcome string, start time.Time) {
	m.Observe("nats", op, outcome, start)
}

func (m *Metrics) revoked(n int, passwordRemains bool) {
	if m == nil {
		return
	}
	outcome := "revoked"
	if passwordRemains {
		outcome = "password_reset_required"
	}
	m.revocations.WithLabelValues(outcome).Add(float64(n))
}

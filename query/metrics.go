package query

import (
	"sync/atomic"
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

// Outcomes of a revoked client, as metric label values.
const (
	revokeOutcomeRevoked       = "revoked"
	revokeOutcomePasswordReset = "password_reset_required"
)

// Metrics are the query service's Prometheus collectors. A nil *Metrics
// records nothing.
type Metrics struct {
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	revocations  *prometheus.CounterVec
	confirmation prometheus.Histogram
	expired      prometheus.Counter

	// tracker is the RevokeTracker that the pending gauges report, if any.
	tracker atomic.Pointer[RevokeTracker]
}

// NewMetrics creates the query service's collectors and registers them on
// reg. The series of both transports, every operation and every outcome
// start at zero, so that they exist before the first request.
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
		confirmation: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "clientele_revocation_confirmation_seconds",
			Help:    "Time from a revoke until the projector applied the node events that end every session, grant and FAST token of the revoked client.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "clientele_revocations_unconfirmed_total",
			Help: "Revoked clients whose confirmation did not arrive within the tracking limit, and that are no longer tracked.",
		}),
	}
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "clientele_revocations_pending",
		Help: "Revoked clients whose sessions, grants or FAST tokens the nodes have not yet confirmed as ended.",
	}, func() float64 {
		n, _ := m.pending()
		return float64(n)
	})
	oldest := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "clientele_revocations_oldest_pending_seconds",
		Help: "Age of the oldest revoke that waits for its confirmation; 0 when none waits.",
	}, func() float64 {
		_, age := m.pending()
		return age.Seconds()
	})
	reg.MustRegister(m.requests, m.latency, m.revocations, m.confirmation, m.expired, pending, oldest)

	for _, transport := range []string{"nats", "xmpp"} {
		for _, op := range []string{"list", "revoke"} {
			m.latency.WithLabelValues(transport, op)
			for _, outcome := range []string{outcomeOK, outcomeBadRequest, outcomeNotFound, outcomeTimeout, outcomeError} {
				m.requests.WithLabelValues(transport, op, outcome)
			}
		}
	}
	m.revocations.WithLabelValues(revokeOutcomeRevoked)
	m.revocations.WithLabelValues(revokeOutcomePasswordReset)
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
	outcome := revokeOutcomeRevoked
	if passwordRemains {
		outcome = revokeOutcomePasswordReset
	}
	m.revocations.WithLabelValues(outcome).Add(float64(n))
}

func (m *Metrics) confirmed(d time.Duration) {
	if m == nil {
		return
	}
	m.confirmation.Observe(d.Seconds())
}

func (m *Metrics) unconfirmed() {
	if m == nil {
		return
	}
	m.expired.Inc()
}

func (m *Metrics) pending() (int, time.Duration) {
	t := m.tracker.Load()
	if t == nil {
		return 0, 0
	}
	return t.Pending()
}

package ingest

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus collectors of the node interface. A nil
// *Metrics records nothing.
type Metrics struct {
	requests *prometheus.CounterVec
	events   *prometheus.CounterVec
	commands *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clientele_ingest_requests_total",
			Help: "HTTP requests of the node interface, by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clientele_ingest_events_total",
			Help: "Events received over HTTP, by outcome: stored, duplicate, rejected or failed.",
		}, []string{"outcome"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clientele_ingest_commands_total",
			Help: "Revoke commands handed to nodes over HTTP, by outcome: delivered, acked, ack_failed or malformed.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.events, m.commands)
	return m
}

func (m *Metrics) request(endpoint string, code int) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(endpoint, strconv.Itoa(code)).Inc()
}

func (m *Metrics) event(outcome string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.events.WithLabelValues(outcome).Add(float64(n))
}

func (m *Metrics) command(outcome string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.commands.WithLabelValues(outcome).Add(float64(n))
}

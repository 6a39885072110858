package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/clientele-xmpp/clientele/ops"
	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

// serveMetrics are the Prometheus collectors of serve, on the registry that
// /metrics serves.
type serveMetrics struct {
	registry  *prometheus.Registry
	projector *projector.Metrics
	query     *query.Metrics
	nats      *ops.NATSMetrics
}

// newServeMetrics builds serve's registry: the Go runtime and process
// collectors, the projector, query and NATS metrics, and clientele_ready,
// which is 1 while ready returns nil.
func newServeMetrics(ready func() error) *serveMetrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "clientele_ready",
		Help: "1 while /readyz returns 200: NATS is connected and the projector has caught up with the stream as it was at start.",
	}, func() float64 {
		if ready() != nil {
			return 0
		}
		return 1
	}))
	return &serveMetrics{
		registry:  reg,
		projector: projector.NewMetrics(reg),
		query:     query.NewMetrics(reg),
		nats:      ops.NewNATSMetrics(reg),
	}
}

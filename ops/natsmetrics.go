package ops

import (
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// NATSMetrics is a Prometheus collector of the state and traffic of one NATS
// connection, read from the connection at every scrape. Before Watch, and
// after Watch(nil), it reports a disconnected connection with no traffic.
// It is safe for concurrent use.
type NATSMetrics struct {
	conn atomic.Pointer[nats.Conn]

	connected  *prometheus.Desc
	reconnects *prometheus.Desc
	inMsgs     *prometheus.Desc
	outMsgs    *prometheus.Desc
	inBytes    *prometheus.Desc
	outBytes   *prometheus.Desc
}

// NewNATSMetrics creates the NATS connection collector and registers it on
// reg.
func NewNATSMetrics(reg prometheus.Registerer) *NATSMetrics {
	m := &NATSMetrics{
		connected: prometheus.NewDesc("clientele_nats_connected",
			"1 while the NATS connection is connected, 0 while it connects, reconnects, drains or is closed.", nil, nil),
		reconnects: prometheus.NewDesc("clientele_nats_reconnects_total",
			"Times the NATS connection reconnected after losing its server.", nil, nil),
		inMsgs: prometheus.NewDesc("clientele_nats_received_messages_total",
			"Messages received on the NATS connection.", nil, nil),
		outMsgs: prometheus.NewDesc("clientele_nats_sent_messages_total",
			"Messages sent on the NATS connection.", nil, nil),
		inBytes: prometheus.NewDesc("clientele_nats_received_bytes_total",
			"Payload bytes received on the NATS connection.", nil, nil),
		outBytes: prometheus.NewDesc("clientele_nats_sent_bytes_total",
			"Payload bytes sent on the NATS connection.", nil, nil),
	}
	reg.MustRegister(m)
	return m
}

// Watch makes m report nc. nil stops reporting a connection.
func (m *NATSMetrics) Watch(nc *nats.Conn) {
	m.conn.Store(nc)
}

// Describe implements prometheus.Collector.
func (m *NATSMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.connected, m.reconnects, m.inMsgs, m.outMsgs, m.inBytes, m.outBytes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *NATSMetrics) Collect(ch chan<- prometheus.Metric) {
	connected := 0.0
	var stats nats.Statistics
	if nc := m.conn.Load(); nc != nil {
		if nc.Status() == nats.CONNECTED {
			connected = 1
		}
		stats = nc.Stats()
	}
	ch <- prometheus.MustNewConstMetric(m.connected, prometheus.GaugeValue, connected)
	ch <- prometheus.MustNewConstMetric(m.reconnects, prometheus.CounterValue, float64(stats.Reconnects))
	ch <- prometheus.MustNewConstMetric(m.inMsgs, prometheus.CounterValue, float64(stats.InMsgs))
	ch <- prometheus.MustNewConstMetric(m.outMsgs, prometheus.CounterValue, float64(stats.OutMsgs))
	ch <- prometheus.MustNewConstMetric(m.inBytes, prometheus.CounterValue, float64(stats.InBytes))
	ch <- prometheus.MustNewConstMetric(m.outBytes, prometheus.CounterValue, float64(stats.OutBytes))
}

package projector

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the projector's Prometheus collectors. A nil *Metrics records
// nothing, so that tests and tools can run a Runner without a registry.
type Metrics struct {
	applied      *prometheus.CounterVec
	rejected     *prometheus.CounterVec
	deadLettered prometheus.Counter
	appliedSeq   prometheus.Gauge
	lastEvent    prometheus.Gauge
	streamSeq    prometheus.Gauge
	snapDuration prometheus.Histogram
	snapSize     prometheus.Gauge
	snapTime     prometheus.Gauge
	snapFailures prometheus.Counter
}

// Reasons for rejected messages.
const (
	ReasonMalformed    = "malformed"
	ReasonInvalid      = "invalid"
	ReasonUnknownType  = "unknown_type"
	ReasonNewerVersion = "newer_version"
)

// NewMetrics creates the projector's collectors and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clientele_events_applied_total",
			Help: "Events folded into the views, by event type.",
		}, []string{"type"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clientele_events_rejected_total",
			Help: "Stream messages the projector skipped, by reason.",
		}, []string{"reason"}),
		deadLettered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "clientele_events_dead_lettered_total",
			Help: "Malformed or invalid messages copied to the dead-letter subject.",
		}),
		appliedSeq: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "clientele_projector_applied_sequence",
			Help: "Stream sequence of the last message the projector processed.",
		}),
		lastEvent: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "clientele_projector_last_event_timestamp_seconds",
			Help: "Event time of the newest applied event, as a Unix time.",
		}),
		streamSeq: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "clientele_stream_last_sequence",
			Help: "Last sequence of the event stream when the projector last checked.",
		}),
		snapDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "clientele_snapshot_duration_seconds",
			Help:    "Time taken to encode and store a snapshot.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		snapSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "clientele_snapshot_size_bytes",
			Help: "Size of the newest stored snapshot.",
		}),
		snapTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "clientele_snapshot_timestamp_seconds",
			Help: "Unix time at which the newest snapshot was stored or loaded.",
		}),
		snapFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "clientele_snapshot_failures_total",
			Help: "Snapshots that could not be stored or loaded.",
		}),
	}
	reg.MustRegister(m.applied, m.rejected, m.deadLettered, m.appliedSeq, m.lastEvent,
		m.streamSeq, m.snapDuration, m.snapSize, m.snapTime, m.snapFailures)
	return m
}

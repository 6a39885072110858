package projector

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clientele-xmpp/clientele/events"
)

// Metrics are the projector's Prometheus collectors. A nil *Metrics records
// nothing, so that tests and tools can run a Runner without a registry.
// One Metrics serves one Runner.
type Metrics struct {
	applied      *prometheus.CounterVec
	rejected     *prometheus.CounterVec
	deadLettered prometheus.Counter
	lastEvent    prometheus.Gauge

	snapDuration prometheus.Histogram
	snapSize     prometheus.Gauge
	snapTime     prometheus.Gauge
	snapSeq      prometheus.Gauge
	snapFailures prometheus.Counter

	users         prometheus.Gauge
	clients       *prometheus.GaugeVec
	sessions      prometheus.Gauge
	liveNodes     prometheus.Gauge
	statsDuration prometheus.Gauge

	progress progress
}

// Reasons for rejected messages.
const (
	ReasonMalformed    = "malformed"
	ReasonInvalid      = "invalid"
	ReasonUnknownType  = "unknown_type"
	ReasonNewerVersion = "newer_version"
)

// NewMetrics creates the projector's collectors and registers them on reg.
// The series of every event type, reject reason and client kind start at
// zero, so that they exist before the first event.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{progress: progress{now: time.Now}}
	m.applied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "clientele_events_applied_total",
		Help: "Events folded into the views, by event type.",
	}, []string{"type"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "clientele_events_rejected_total",
		Help: "Stream messages the projector skipped, by reason.",
	}, []string{"reason"})
	m.deadLettered = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "clientele_events_dead_lettered_total",
		Help: "Malformed or invalid messages copied to the dead-letter subject.",
	})
	m.lastEvent = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "clientele_projector_last_event_timestamp_seconds",
		Help: "Event time of the most recently applied event, as a Unix time from the publishing node's clock.",
	})
	reg.MustRegister(m.applied, m.rejected, m.deadLettered, m.lastEvent)
	reg.MustRegister(m.progress.collectors()...)
	m.registerSnapshot(reg)
	m.registerStats(reg)

	for _, t := range events.Types {
		m.applied.WithLabelValues(string(t))
	}
	for _, reason := range []string{ReasonMalformed, ReasonInvalid, ReasonUnknownType, ReasonNewerVersion} {
		m.rejected.WithLabelValues(reason)
	}
	return m
}

func (m *Metrics) registerSnapshot(reg prometheus.Registerer) {
	m.snapDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "clientele_snapshot_duration_seconds",
		Help:    "Time taken to encode and store a snapshot.",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
	})
	m.snapSize = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "clientele_snapshot_size_bytes",
		Help: "Size of the newest stored or loaded snapshot.",
	})
	m.snapTime = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "clientele_snapshot_timestamp_seconds",
		Help: "Unix time at which the newest snapshot was stored or loaded; 0 before the first.",
	})
	m.snapSeq = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "clientele_snapshot_sequence",
		Help: "Stream sequence up to which the newest stored or loaded snapshot covers the stream.",
	})
	m.snapFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "clientele_snapshot_failures_total",
		Help: "Snapshots that could not be stored or loaded.",
	})
	reg.MustRegister(m.snapDuration, m.snapSize, m.snapTime, m.snapSeq, m.snapFailures)
}

func (m *Metrics) registerStats(reg prometheus.Registerer) {
	m.users = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "clientele_users",
		Help: "Accounts in the projector's state, deleted ones included, as of the last count.",
	})
	m.clients = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "clientele_clients",
		Help: "Listed clients by type (session or access) and legacy flag, as of the last count.",
	}, []string{"type", "legacy"})
	m.sessions = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "clientele_sessions_connected",
		Help: "Sessions bound or hibernated and not ended, as of the last count.",
	})
	m.liveNodes = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "clientele_nodes_live",
		Help: "XMPP nodes that are started, not stopped and within the heartbeat timeout, as of the last count.",
	})
	m.statsDuration = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "clientele_projector_count_duration_seconds",
		Help: "Time the last count of users, clients, sessions and nodes took.",
	})
	reg.MustRegister(m.users, m.clients, m.sessions, m.liveNodes, m.statsDuration)

	for _, k := range clientKinds {
		m.clients.WithLabelValues(k.labels()...)
	}
}

func (k ClientKind) labels() []string {
	legacy := "false"
	if k.Legacy {
		legacy = "true"
	}
	return []string{k.Type, legacy}
}

// clientKinds are the kinds of client that listings produce: a legacy
// client is known by the resource of its sessions, so it is never of type
// access.
var clientKinds = []ClientKind{{TypeSession, false}, {TypeSession, true}, {TypeAccess, false}}

// setStats publishes a count that took d. A kind of clientKinds missing
// from st is set to zero.
func (m *Metrics) setStats(st Stats, d time.Duration) {
	m.users.Set(float64(st.Users))
	for _, k := range clientKinds {
		m.clients.WithLabelValues(k.labels()...).Set(float64(st.Clients[k]))
	}
	for k, n := range st.Clients {
		m.clients.WithLabelValues(k.labels()...).Set(float64(n))
	}
	m.sessions.Set(float64(st.ConnectedSessions))
	m.liveNodes.Set(float64(st.LiveNodes))
	m.statsDuration.Set(d.Seconds())
}

// snapshotTaken records a snapshot of size bytes up to sequence seq that
// was stored or loaded now.
func (m *Metrics) snapshotTaken(size int, seq uint64) {
	m.snapSize.Set(float64(size))
	m.snapSeq.Set(float64(seq))
	m.snapTime.SetToCurrentTime()
}

// progress follows how far the projector is behind the stream. Its fields
// are atomic because the Runner writes them while scrapes read them.
type progress struct {
	now func() time.Time

	// applied is the stream sequence of the last processed message and
	// appliedStored the Unix nanoseconds at which JetStream stored it.
	applied       atomic.Uint64
	appliedStored atomic.Int64
	// streamLast is the stream's last sequence at the last check, and
	// pendingStored the Unix nanoseconds at which JetStream stored the
	// oldest message that was not processed then, or 0 when none was.
	streamLast    atomic.Uint64
	pendingStored atomic.Int64
}

func (p *progress) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "clientele_projector_applied_sequence",
			Help: "Stream sequence of the last message the projector processed.",
		}, func() float64 { return float64(p.applied.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "clientele_stream_last_sequence",
			Help: "Last sequence of the event stream: the larger of the value at the projector's last check and the applied sequence.",
		}, func() float64 { return float64(max(p.streamLast.Load(), p.applied.Load())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "clientele_projector_lag_events",
			Help: "Stream messages that the projector has not processed: the stream's last sequence at the last check minus the applied sequence.",
		}, func() float64 { return float64(p.lagEvents()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "clientele_projector_lag_seconds",
			Help: "Age of the oldest stream message that the projector has not processed, by JetStream's store time; 0 when it has processed every message.",
		}, func() float64 { return p.lagSeconds().Seconds() }),
	}
}

// processed records the stream sequence of a processed message and the
// time at which JetStream stored it, or the zero time when unknown.
func (p *progress) processed(seq uint64, stored time.Time) {
	p.applied.Store(seq)
	if stored.IsZero() {
		p.appliedStored.Store(0)
		return
	}
	p.appliedStored.Store(stored.UnixNano())
}

// streamChecked records the stream's last sequence, and the store time of
// the oldest message not yet processed, or the zero time when none is.
func (p *progress) streamChecked(last uint64, pending time.Time) {
	p.streamLast.Store(last)
	if pending.IsZero() {
		p.pendingStored.Store(0)
		return
	}
	p.pendingStored.Store(pending.UnixNano())
}

func (p *progress) lagEvents() uint64 {
	last, applied := p.streamLast.Load(), p.applied.Load()
	if applied >= last {
		return 0
	}
	return last - applied
}

// lagSeconds returns the age of the oldest unprocessed message. Store times
// grow with the sequence, so once the projector has passed the message
// seen pending at the last check, the store time of the last processed
// message bounds the oldest unprocessed one from below.
func (p *progress) lagSeconds() time.Duration {
	if p.lagEvents() == 0 {
		return 0
	}
	since := max(p.pendingStored.Load(), p.appliedStored.Load())
	if since == 0 {
		return 0
	}
	return max(p.now().Sub(time.Unix(0, since)), 0)
}

package projector_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
)

// metricsHistory is a known sequence of events. Node xmpp-1 is live and
// xmpp-2 stopped. alice has a password session and a grant-only client,
// bob a legacy session and an ended one, and carol's account is deleted.
func metricsHistory() []*events.Event {
	at := func(minutes int) time.Time { return base.Add(time.Duration(minutes) * time.Minute) }
	n := 0
	ev := func(typ events.Type, node, user string, minutes int) *events.Event {
		n++
		return &events.Event{ID: fmt.Sprintf("metrics-%d", n), Type: typ, V: 1, Time: at(minutes), Node: node, User: user}
	}
	session := func(e *events.Event, id, resource, client string) *events.Event {
		e.Session = &events.Session{ID: id, Resource: resource}
		if client != "" {
			e.Client = &events.Client{ID: client, Software: "Gajim"}
		}
		return e
	}
	const alice, bob, carol = "alice@example.test", "bob@example.test", "carol@example.test"

	started1 := ev(events.NodeStarted, "xmpp-1", "", 0)
	started1.Boot = "boot-1"
	started2 := ev(events.NodeStarted, "xmpp-2", "", 0)
	started2.Boot = "boot-2"
	grant := ev(events.GrantIssued, "xmpp-1", alice, 2)
	grant.Grant = &events.Grant{ID: "g1", Name: "Movim"}
	return []*events.Event{
		started1, started2,
		ev(events.NodeStopped, "xmpp-2", "", 30),
		ev(events.NodeHeartbeat, "xmpp-1", "", 55),
		session(ev(events.AuthPassword, "xmpp-1", alice, 1), "s1", "", "c1"),
		session(ev(events.SessionBound, "xmpp-1", alice, 1), "s1", "gajim.1", "c1"),
		grant,
		session(ev(events.AuthPassword, "xmpp-1", bob, 3), "s2", "", ""),
		session(ev(events.SessionBound, "xmpp-1", bob, 3), "s2", "pidgin", ""),
		session(ev(events.SessionBound, "xmpp-1", bob, 4), "s3", "dino.1", "c2"),
		session(ev(events.SessionUnbound, "xmpp-1", bob, 5), "s3", "", ""),
		session(ev(events.AuthPassword, "xmpp-1", carol, 6), "s4", "", "c3"),
		session(ev(events.SessionBound, "xmpp-1", carol, 6), "s4", "gajim.4", "c3"),
		ev(events.AccountDeleted, "xmpp-1", carol, 7),
	}
}

func TestMetricsAfterKnownEvents(t *testing.T) {
	p := newPipeline(t)
	ctx := context.Background()
	p.publishAll(t, metricsHistory())
	raw := map[string]string{
		"malformed":    `{"id": "broken`,
		"unknown type": `{"id":"x1","type":"client.renamed","v":1,"time":"2026-12-04T10:00:00Z","node":"xmpp-1","user":"alice@example.test"}`,
		"invalid":      `{"id":"x2","type":"session.bound","v":1,"time":"2026-12-04T10:00:00Z","node":"xmpp-1","user":"alice@example.test"}`,
	}
	var last uint64
	for name, data := range raw {
		ack, err := p.js.Publish(ctx, events.UserSubjectPrefix+".x.y.raw", []byte(data))
		if err != nil {
			t.Fatalf("publish %s message: %v", name, err)
		}
		last = max(last, ack.Sequence)
	}

	reg := prometheus.NewRegistry()
	r := projector.NewRunner(projector.Config{
		JS: p.js, SnapshotBucket: "snap-metrics", SnapshotInterval: -1, Now: fixedNow, Metrics: projector.NewMetrics(reg),
		HeartbeatTimeout: 10 * time.Minute, StreamCheckInterval: 10 * time.Millisecond, StatsInterval: -1,
	})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runner: %v", err)
		}
	})
	waitApplied(t, r, last)
	st := r.Stats()
	if st.Users != 3 {
		t.Errorf("Stats().Users = %d, want 3", st.Users)
	}

	const want = `
# HELP clientele_clients Listed clients by type (session or access) and legacy flag, as of the last count.
# TYPE clientele_clients gauge
clientele_clients{legacy="false",type="access"} 1
clientele_clients{legacy="false",type="session"} 1
clientele_clients{legacy="true",type="session"} 1
# HELP clientele_events_dead_lettered_total Malformed or invalid messages copied to the dead-letter subject.
# TYPE clientele_events_dead_lettered_total counter
clientele_events_dead_lettered_total 2
# HELP clientele_events_rejected_total Stream messages the projector skipped, by reason.
# TYPE clientele_events_rejected_total counter
clientele_events_rejected_total{reason="invalid"} 1
clientele_events_rejected_total{reason="malformed"} 1
clientele_events_rejected_total{reason="newer_version"} 0
clientele_events_rejected_total{reason="unknown_type"} 1
# HELP clientele_nodes_live XMPP nodes that are started, not stopped and within the heartbeat timeout, as of the last count.
# TYPE clientele_nodes_live gauge
clientele_nodes_live 1
# HELP clientele_projector_applied_sequence Stream sequence of the last message the projector processed.
# TYPE clientele_projector_applied_sequence gauge
clientele_projector_applied_sequence 17
# HELP clientele_sessions_connected Sessions bound or hibernated and not ended, as of the last count.
# TYPE clientele_sessions_connected gauge
clientele_sessions_connected 2
# HELP clientele_users Accounts in the projector's state, deleted ones included, as of the last count.
# TYPE clientele_users gauge
clientele_users 3
`
	names := []string{
		"clientele_clients", "clientele_events_dead_lettered_total", "clientele_events_rejected_total",
		"clientele_nodes_live", "clientele_projector_applied_sequence", "clientele_sessions_connected", "clientele_users",
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}

	wantApplied := map[events.Type]float64{
		events.NodeStarted: 2, events.NodeStopped: 1, events.NodeHeartbeat: 1,
		events.AuthPassword: 3, events.SessionBound: 4, events.SessionUnbound: 1,
		events.GrantIssued: 1, events.AccountDeleted: 1,
	}
	for _, typ := range events.Types {
		counter, err := appliedCounter(reg, typ)
		if err != nil {
			t.Errorf("applied %s: %v", typ, err)
			continue
		}
		if counter != wantApplied[typ] {
			t.Errorf("clientele_events_applied_total{type=%q} = %v, want %v", typ, counter, wantApplied[typ])
		}
	}

	// The stream check runs every 10ms. Once it has seen the last message,
	// the lag is zero in events and seconds.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP clientele_projector_lag_events Stream messages that the projector has not processed: the stream's last sequence at the last check minus the applied sequence.
# TYPE clientele_projector_lag_events gauge
clientele_projector_lag_events 0
# HELP clientele_projector_lag_seconds Age of the oldest stream message that the projector has not processed, by JetStream's store time; 0 when it has processed every message.
# TYPE clientele_projector_lag_seconds gauge
clientele_projector_lag_seconds 0
# HELP clientele_stream_last_sequence Last sequence of the event stream: the larger of the value at the projector's last check and the applied sequence.
# TYPE clientele_stream_last_sequence gauge
clientele_stream_last_sequence 17
`), "clientele_projector_lag_events", "clientele_projector_lag_seconds", "clientele_stream_last_sequence")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lag metrics after catching up: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// appliedCounter returns clientele_events_applied_total of one type, which
// must be exported even when zero.
func appliedCounter(reg *prometheus.Registry, typ events.Type) (float64, error) {
	families, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	for _, f := range families {
		if f.GetName() != "clientele_events_applied_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "type" && l.GetValue() == string(typ) {
					return m.GetCounter().GetValue(), nil
				}
			}
		}
	}
	return 0, errMissingSeries
}

var errMissingSeries = errors.New("series missing from the registry")

func TestSnapshotMetrics(t *testing.T) {
	p := newPipeline(t)
	seq := p.publishAll(t, history(5, 3, 40))
	reg := prometheus.NewRegistry()
	r, _ := startRunner(t, p.js, "snap-m", projector.NewMetrics(reg))
	waitApplied(t, r, seq)

	before := time.Now()
	if err := r.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch {
			case m.GetGauge() != nil:
				values[f.GetName()] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				values[f.GetName()] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				values[f.GetName()+"_count"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	if got := values["clientele_snapshot_sequence"]; got != float64(seq) {
		t.Errorf("clientele_snapshot_sequence = %v, want %d", got, seq)
	}
	if got := values["clientele_snapshot_size_bytes"]; got <= 0 {
		t.Errorf("clientele_snapshot_size_bytes = %v, want > 0", got)
	}
	if got := values["clientele_snapshot_timestamp_seconds"]; got < float64(before.Unix()) {
		t.Errorf("clientele_snapshot_timestamp_seconds = %v, want at least %d", got, before.Unix())
	}
	if got := values["clientele_snapshot_duration_seconds_count"]; got != 1 {
		t.Errorf("clientele_snapshot_duration_seconds_count = %v, want 1", got)
	}
	if got := values["clientele_snapshot_failures_total"]; got != 0 {
		t.Errorf("clientele_snapshot_failures_total = %v, want 0", got)
	}
}

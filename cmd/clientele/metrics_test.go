package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/simulate"
	"github.com/clientele-xmpp/clientele/query"
)

// seriesValue returns the value of one series in a text exposition, named
// as it is printed there, such as `x_total{op="list"}`.
func seriesValue(exposition, series string) (float64, bool) {
	for line := range strings.SplitSeq(exposition, "\n") {
		rest, ok := strings.CutPrefix(line, series+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		return v, err == nil
	}
	return 0, false
}

// waitCaughtUp waits until serve's projector has applied every event that
// the stream holds now.
func waitCaughtUp(t *testing.T, js jetstream.JetStream, nc *nats.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := query.ListRequest{User: "user1@example.test", MinSeq: info.State.LastSeq}
	if _, err := query.NewClient(nc).List(ctx, req); err != nil {
		t.Fatalf("wait for sequence %d: %v", info.State.LastSeq, err)
	}
}

// expectation is a condition on a value and its description.
type expectation struct {
	want string
	ok   func(v float64) bool
}

func equals(n float64) expectation {
	return expectation{fmt.Sprintf("= %g", n), func(v float64) bool { return v == n }}
}

func positive() expectation {
	return expectation{"> 0", func(v float64) bool { return v > 0 }}
}

// seriesCheck is one expectation on a series of serve's /metrics.
type seriesCheck struct {
	series string
	expectation
}

func check(series string, e expectation) seriesCheck {
	return seriesCheck{series: series, expectation: e}
}

// TestServeMetricsFedBySimulate runs serve, feeds it with simulate whose
// nodes carry out revoke commands, revokes one client and checks that
// /metrics shows the expected, non-zero series for each metric.
func TestServeMetricsFedBySimulate(t *testing.T) {
	natsURL, httpAddr := startServe(t, "--snapshot-interval", "200ms")
	vars := map[string]string{"CLIENTELE_NATS_URL": natsURL}

	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	simDone := make(chan error, 1)
	finished := make(chan struct{})
	cfg := simulate.Config{Users: 5, Events: 600, Seed: 7, Serve: true}
	go func() {
		_, err := simulate.Run(ctx, js, cfg, func(p simulate.Progress) {
			if p.Finished {
				close(finished)
			}
		})
		simDone <- err
	}()
	defer func() {
		cancel()
		<-simDone
	}()
	select {
	case <-finished:
	case err := <-simDone:
		t.Fatalf("simulate ended before its last event: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("simulate did not publish 600 events within 30s")
	}

	if _, err := js.Publish(context.Background(), events.UserSubjectPrefix+".x.y.session.bound", []byte(`{"id": "broken`)); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, js, nc)
	user, victim := pickRevocable(t, vars)
	if code, _, stderr := runCLI(t, "", vars, "revoke", user, victim.ID); code != exitOK {
		t.Fatalf("revoke exit %d: %s", code, stderr)
	}

	checks := []seriesCheck{
		check(`clientele_events_applied_total{type="session.bound"}`, positive()),
		check(`clientele_events_applied_total{type="node.heartbeat"}`, positive()),
		check(`clientele_events_applied_total{type="client.revoked"}`, equals(1)),
		check(`clientele_events_rejected_total{reason="malformed"}`, equals(1)),
		check(`clientele_events_dead_lettered_total`, equals(1)),
		check(`clientele_projector_applied_sequence`, positive()),
		check(`clientele_stream_last_sequence`, positive()),
		check(`clientele_projector_lag_events`, equals(0)),
		check(`clientele_projector_lag_seconds`, equals(0)),
		check(`clientele_projector_last_event_timestamp_seconds`, positive()),
		check(`clientele_users`, equals(float64(cfg.Users))),
		check(`clientele_clients{legacy="false",type="session"}`, positive()),
		check(`clientele_sessions_connected`, positive()),
		check(`clientele_nodes_live`, equals(3)),
		check(`clientele_query_requests_total{op="list",outcome="ok",transport="nats"}`, positive()),
		check(`clientele_query_requests_total{op="revoke",outcome="ok",transport="nats"}`, equals(1)),
		check(`clientele_query_duration_seconds_count{op="list",transport="nats"}`, positive()),
		check(`clientele_revocations_total{outcome="revoked"}`, equals(1)),
		check(`clientele_revocation_confirmation_seconds_count`, equals(1)),
		check(`clientele_revocations_pending`, equals(0)),
		check(`clientele_revocations_oldest_pending_seconds`, equals(0)),
		check(`clientele_snapshot_duration_seconds_count`, positive()),
		check(`clientele_snapshot_size_bytes`, positive()),
		check(`clientele_snapshot_timestamp_seconds`, positive()),
		check(`clientele_snapshot_sequence`, positive()),
		check(`clientele_nats_connected`, equals(1)),
		check(`clientele_nats_received_messages_total`, positive()),
		check(`clientele_nats_sent_bytes_total`, positive()),
		check(`clientele_ready`, equals(1)),
		check(`go_goroutines`, positive()),
		check(`process_resident_memory_bytes`, positive()),
	}

	// Counts, snapshots and stream checks run every few seconds, and the
	// simulated nodes confirm the revoke on their own time.
	var failed []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		exposition := scrape(t, httpAddr)
		failed = failed[:0]
		for _, c := range checks {
			v, ok := seriesValue(exposition, c.series)
			if !ok {
				failed = append(failed, c.series+" missing")
			} else if !c.ok(v) {
				failed = append(failed, fmt.Sprintf("%s = %g, want %s", c.series, v, c.want))
			}
		}
		applied, _ := seriesValue(exposition, "clientele_projector_applied_sequence")
		last, _ := seriesValue(exposition, "clientele_stream_last_sequence")
		if applied != last {
			failed = append(failed, fmt.Sprintf("applied sequence %g differs from the stream's last sequence %g", applied, last))
		}
		if len(failed) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s /metrics still has:\n%s", strings.Join(failed, "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

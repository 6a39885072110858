package query_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/natstest"
	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

// startTrackedService runs a projector whose applied events feed a
// RevokeTracker, and a query service that tracks its revokes, until the
// test ends.
func startTrackedService(t *testing.T) (*events.Publisher, *projector.Runner, *query.Client, *prometheus.Registry) {
	t.Helper()
	nc, js := natstest.Start(t).Connect(t)
	ctx := context.Background()
	if err := events.EnsureStreams(ctx, js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	metrics := query.NewMetrics(reg)
	tracker := query.NewRevokeTracker(query.RevokeTrackerConfig{Metrics: metrics})
	pub := events.NewPublisher(js, events.PublisherOptions{})
	runner := projector.NewRunner(projector.Config{JS: js, SnapshotInterval: -1, OnApply: tracker.Applied})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runner.Run(rctx) }()
	svc, err := query.Start(query.Config{
		NC: nc, Views: runner, Publisher: pub, Logger: slog.New(slog.DiscardHandler),
		Metrics: metrics, Revokes: tracker,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		svc.Stop()
		cancel()
		<-done
	})
	return pub, runner, query.NewClient(nc), reg
}

func publishApplied(t *testing.T, pub *events.Publisher, runner *projector.Runner, evs ...*events.Event) {
	t.Helper()
	var last uint64
	for _, e := range evs {
		seq, err := pub.Publish(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		last = seq
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := runner.WaitApplied(ctx, last); err != nil {
		t.Fatal(err)
	}
}

func TestRevokeConfirmedByNodeEvents(t *testing.T) {
	pub, runner, client, reg := startTrackedService(t)
	const user = "dora@example.test"
	at := time.Now().UTC().Add(-time.Minute)
	conv := &events.Client{ID: "conv-7", Software: "Conversations"}
	event := func(id string, typ events.Type, node string) *events.Event {
		return &events.Event{ID: "confirm-" + id, Type: typ, V: 1, Time: at, Node: node, User: user, Client: conv}
	}
	minted := event("1", events.FastMinted, "xmpp-1")
	minted.Fast = &events.Fast{Fingerprint: "sha256:f7"}
	login := event("2", events.AuthFast, "xmpp-1")
	login.Session, login.Fast = &events.Session{ID: "s1"}, minted.Fast
	bound := event("3", events.SessionBound, "xmpp-1")
	bound.Session = &events.Session{ID: "s1", Resource: "conv.1"}
	second := event("4", events.SessionBound, "xmpp-2")
	second.Session = &events.Session{ID: "s2", Resource: "conv.2"}
	publishApplied(t, pub, runner, minted, login, bound, second)

	clients, _ := runner.Clients(user)
	if len(clients) != 1 {
		t.Fatalf("dora has %d clients, want 1", len(clients))
	}
	if _, err := client.Revoke(context.Background(), query.RevokeRequest{User: user, Selector: clients[0].ID}); err != nil {
		t.Fatal(err)
	}
	pending := `
# HELP clientele_revocations_pending Revoked clients whose sessions, grants or FAST tokens the nodes have not yet confirmed as ended.
# TYPE clientele_revocations_pending gauge
clientele_revocations_pending 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(pending), "clientele_revocations_pending"); err != nil {
		t.Errorf("after the revoke: %v", err)
	}

	// The nodes carry out the command: xmpp-1 ends its session and the
	// token, xmpp-2 its session.
	at = time.Now().UTC()
	unbound1 := event("5", events.SessionUnbound, "xmpp-1")
	unbound1.Session = &events.Session{ID: "s1"}
	revoked := event("6", events.FastRevoked, "xmpp-1")
	revoked.Fast = minted.Fast
	publishApplied(t, pub, runner, unbound1, revoked)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(pending), "clientele_revocations_pending"); err != nil {
		t.Errorf("before xmpp-2 confirmed: %v", err)
	}
	unbound2 := event("7", events.SessionUnbound, "xmpp-2")
	unbound2.Session = &events.Session{ID: "s2"}
	publishApplied(t, pub, runner, unbound2)

	confirmed := `
# HELP clientele_revocations_pending Revoked clients whose sessions, grants or FAST tokens the nodes have not yet confirmed as ended.
# TYPE clientele_revocations_pending gauge
clientele_revocations_pending 0
# HELP clientele_revocations_oldest_pending_seconds Age of the oldest revoke that waits for its confirmation; 0 when none waits.
# TYPE clientele_revocations_oldest_pending_seconds gauge
clientele_revocations_oldest_pending_seconds 0
# HELP clientele_revocations_total Clients revoked, by outcome: revoked, or password_reset_required when password access remains.
# TYPE clientele_revocations_total counter
clientele_revocations_total{outcome="password_reset_required"} 0
clientele_revocations_total{outcome="revoked"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(confirmed),
		"clientele_revocations_pending", "clientele_revocations_oldest_pending_seconds", "clientele_revocations_total"); err != nil {
		t.Error(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	observed := uint64(0)
	for _, f := range families {
		if f.GetName() == "clientele_revocation_confirmation_seconds" {
			observed = f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	if observed != 1 {
		t.Errorf("clientele_revocation_confirmation_seconds observed %d confirmations, want 1", observed)
	}
}

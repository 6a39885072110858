package simulate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/natstest"
	"github.com/nats-io/nats.go/jetstream"
)

func startJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	_, js := natstest.Start(t).Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := events.EnsureStreams(ctx, js, events.StreamOptions{}); err != nil {
		t.Fatalf("EnsureStreams: %v", err)
	}
	return js
}

// storedEvents returns every event in the event stream in stream order,
// split into heartbeats and the rest.
func storedEvents(t *testing.T, js jetstream.JetStream) (heartbeats, others []*events.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatalf("stream %s: %v", events.StreamName, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		e, err := events.Decode(msg.Data)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		if e.Type == events.NodeHeartbeat {
			heartbeats = append(heartbeats, e)
		} else {
			others = append(others, e)
		}
	}
	return heartbeats, others
}

func runSimulation(t *testing.T, js jetstream.JetStream, cfg Config) (Stats, []Progress) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var reports []Progress
	stats, err := Run(ctx, js, cfg, func(p Progress) { reports = append(reports, p) })
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return stats, reports
}

func TestRunPublishesEvents(t *testing.T) {
	js := startJetStream(t)
	cfg := Config{Nodes: 3, Users: 12, Events: 700, Seed: 3, Start: testStart, BatchSize: 64}
	before := time.Now()
	stats, reports := runSimulation(t, js, cfg)

	if stats.Published != cfg.Events {
		t.Errorf("Stats.Published = %d; want %d", stats.Published, cfg.Events)
	}
	last := reports[len(reports)-1]
	if !last.Finished || last.Published != cfg.Events {
		t.Errorf("last progress %+v; want Finished with %d published", last, cfg.Events)
	}

	heartbeats, stored := storedEvents(t, js)
	want := generate(t, newTestGenerator(t, cfg), cfg.Events)
	if !slices.Equal(keys(stored), keys(want)) {
		t.Fatalf("stream holds %d events that differ from the %d generated ones", len(stored), len(want))
	}
	checker := newSequenceChecker()
	for i, e := range stored {
		if err := checker.check(e); err != nil {
			t.Fatalf("stored event %d: %v", i, err)
		}
	}

	if len(heartbeats) != stats.Heartbeats || len(heartbeats) < 2*cfg.Nodes {
		t.Errorf("%d heartbeats stored, Stats.Heartbeats = %d; want equal and at least %d", len(heartbeats), stats.Heartbeats, 2*cfg.Nodes)
	}
	g := newTestGenerator(t, cfg)
	generate(t, g, cfg.Events)
	for _, h := range heartbeats {
		if h.Time.Before(before.Add(-time.Second)) || h.Time.After(time.Now()) {
			t.Errorf("heartbeat of %s at %v; want the wall-clock time of the run", h.Node, h.Time)
		}
		if h.Boot != g.Boot(h.Node) {
			t.Errorf("heartbeat of %s has boot %q; want %q", h.Node, h.Boot, g.Boot(h.Node))
		}
	}
}

func TestRunSameSeedStoresOnce(t *testing.T) {
	js := startJetStream(t)
	cfg := Config{Nodes: 2, Users: 8, Events: 500, Seed: 9, Start: testStart}
	runSimulation(t, js, cfg)
	stats, _ := runSimulation(t, js, cfg)
	if stats.Published != cfg.Events {
		t.Errorf("second run Stats.Published = %d; want %d", stats.Published, cfg.Events)
	}

	_, stored := storedEvents(t, js)
	if len(stored) != cfg.Events {
		t.Errorf("stream holds %d events after two runs with one seed; want %d", len(stored), cfg.Events)
	}
}

func TestRunRevokeCommand(t *testing.T) {
	js := startJetStream(t)
	cfg := Config{Nodes: 3, Users: 10, Events: 800, Seed: 21, Start: testStart, Serve: true, HeartbeatInterval: 50 * time.Millisecond}
	g := newTestGenerator(t, cfg)
	generate(t, g, cfg.Events)
	s := findSession(t, g, func(s SessionInfo) bool { return s.Fast != "" })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	finished := make(chan struct{})
	type result struct {
		stats Stats
		err   error
	}
	done := make(chan result, 1)
	go func() {
		stats, err := Run(ctx, js, cfg, func(p Progress) {
			if p.Finished {
				close(finished)
			}
		})
		done <- result{stats, err}
	}()
	select {
	case <-finished:
	case r := <-done:
		t.Fatalf("Run returned before serving: %v", r.err)
	}

	cmd := &events.Command{
		ID: events.NewID(), Type: events.CommandRevoke, Time: time.Now(), User: s.User, Target: "client/test",
		ClientID: s.ClientID, Sessions: []events.SessionRef{{Node: s.Node, ID: s.ID}},
	}
	if _, err := events.NewPublisher(js, events.PublisherOptions{}).PublishCommand(ctx, cmd); err != nil {
		t.Fatalf("PublishCommand: %v", err)
	}
	unbound, fastRevoked := waitForRevoke(t, js, s)
	if unbound.Reason != reasonRevoked {
		t.Errorf("session.unbound reason %q; want %q", unbound.Reason, reasonRevoked)
	}
	if fastRevoked.ClientID() != s.ClientID {
		t.Errorf("fast.revoked of client %q; want %q", fastRevoked.ClientID(), s.ClientID)
	}
	waitForAcks(t, js, cfg)

	cancel()
	r := <-done
	if r.err != nil {
		t.Fatalf("Run in serve mode ended by its context: %v", r.err)
	}
	if r.stats.Commands != cfg.Nodes {
		t.Errorf("Stats.Commands = %d; want one per node, %d", r.stats.Commands, cfg.Nodes)
	}
	if r.stats.RevokeEvents < 2 {
		t.Errorf("Stats.RevokeEvents = %d; want at least 2", r.stats.RevokeEvents)
	}
}

// waitForRevoke waits until the stream holds the session.unbound of s and
// the fast.revoked of its token.
func waitForRevoke(t *testing.T, js jetstream.JetStream, s SessionInfo) (unbound, fastRevoked *events.Event) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		_, stored := storedEvents(t, js)
		unbound, fastRevoked = nil, nil
		for _, e := range stored {
			switch {
			case e.Type == events.SessionUnbound && e.Node == s.Node && e.Session.ID == s.ID:
				unbound = e
			case e.Type == events.FastRevoked && e.Fast.Fingerprint == s.Fast:
				fastRevoked = e
			}
		}
		if unbound != nil && fastRevoked != nil {
			return unbound, fastRevoked
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("after 5s: session.unbound stored %v, fast.revoked stored %v; want both", unbound != nil, fastRevoked != nil)
	return nil, nil
}

// waitForAcks waits until every node's command consumer acknowledged all
// delivered commands.
func waitForAcks(t *testing.T, js jetstream.JetStream, cfg Config) {
	t.Helper()
	full, err := cfg.withDefaults(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{cfg: full}
	deadline := time.Now().Add(5 * time.Second)
	for i := 1; i <= full.Nodes; i++ {
		name := r.consumerConfig(fmt.Sprintf("xmpp-%d", i)).Durable
		for {
			cons, err := js.Consumer(context.Background(), events.CommandStreamName, name)
			if err != nil {
				t.Fatalf("consumer %s: %v", name, err)
			}
			info := cons.CachedInfo()
			if info.NumAckPending == 0 && info.NumPending == 0 && info.Delivered.Consumer > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("consumer %s: %d pending, %d awaiting acknowledgement after 5s", name, info.NumPending, info.NumAckPending)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func TestRunRateAndDuration(t *testing.T) {
	js := startJetStream(t)
	cfg := Config{Users: 5, Rate: 200, Duration: 500 * time.Millisecond, Start: testStart}
	stats, _ := runSimulation(t, js, cfg)
	if stats.Published == 0 {
		t.Error("Stats.Published = 0; want the events of 0.5s at 200 events/s")
	}
	// The rate allows 200 events per second of Elapsed, and the rest of the
	// last action adds at most 3. Elapsed, not the configured duration, bounds
	// the count, because a publish that stalls on a loaded machine delays the
	// deadline check.
	if allowed := int(cfg.Rate*stats.Elapsed.Seconds()) + 3; stats.Published > allowed {
		t.Errorf("Stats.Published = %d in %v; want at most %d at %v events/s", stats.Published, stats.Elapsed, allowed, cfg.Rate)
	}
	if stats.Elapsed < cfg.Duration || stats.Elapsed > cfg.Duration+5*time.Second {
		t.Errorf("Stats.Elapsed = %v; want about %v", stats.Elapsed, cfg.Duration)
	}
}

func TestRunContextEnds(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr error
	}{
		{"no limit", Config{}, nil},
		{"event limit", Config{Events: 1 << 30}, context.Canceled},
		{"serve", Config{Events: 1 << 30, Serve: true}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			js := startJetStream(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stats, err := Run(ctx, js, tc.cfg, func(Progress) { cancel() })
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Errorf("Run error = %v; want %v", err, tc.wantErr)
			}
			if stats.Published == 0 {
				t.Error("Stats.Published = 0; want the events of the first batch")
			}
		})
	}
}

func TestRunRejectsConfig(t *testing.T) {
	js := startJetStream(t)
	_, err := Run(context.Background(), js, Config{Rate: -3}, nil)
	if !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Run with Rate -3: error = %v; want ErrInvalidConfig", err)
	}
}

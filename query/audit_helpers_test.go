package query_test

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/natstest"
	"github.com/clientele-xmpp/clientele/ops/simulate"
	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

// auditTimeout is the heartbeat timeout of the audit fixtures.
const auditTimeout = 2 * time.Minute

// auditFixture is a NATS server with the clientele streams, a projector
// and a query service, for the audit and admin tests.
type auditFixture struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	pub    *events.Publisher
	runner *projector.Runner
	svc    *query.Service
	client *query.Client
	// now is the fixed time at which the projector and the service compute
	// live views.
	now time.Time
}

// auditSetup changes the configuration of an auditFixture before it
// starts.
type auditSetup struct {
	// beforeRunner runs after the streams exist and before the projector
	// starts, to fill the stream or the snapshot bucket.
	beforeRunner func(t *testing.T, js jetstream.JetStream)
	ipMaxAge     time.Duration
}

func newAuditFixture(t *testing.T, setup auditSetup) *auditFixture {
	t.Helper()
	nc, js := natstest.Start(t).Connect(t)
	return startAudit(t, nc, js, setup)
}

// startAudit creates the streams on js, runs setup.beforeRunner, and starts
// a projector and a query service that stop when the test ends. The
// projector has caught up with the stream when it returns.
func startAudit(t *testing.T, nc *nats.Conn, js jetstream.JetStream, setup auditSetup) *auditFixture {
	t.Helper()
	ctx := context.Background()
	if err := events.EnsureStreams(ctx, js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	if setup.beforeRunner != nil {
		setup.beforeRunner(t, js)
	}
	f := &auditFixture{nc: nc, js: js, pub: events.NewPublisher(js, events.PublisherOptions{}), now: time.Now().UTC()}
	clock := func() time.Time { return f.now }
	f.runner = projector.NewRunner(projector.Config{JS: js, SnapshotInterval: -1, HeartbeatTimeout: auditTimeout, Now: clock})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.runner.Run(rctx) }()
	svc, err := query.Start(query.Config{
		NC: nc, JS: js, Views: f.runner, Publisher: f.pub, Logger: slog.New(slog.DiscardHandler),
		HeartbeatTimeout: auditTimeout, IPMaxAge: setup.ipMaxAge, Now: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	t.Cleanup(func() {
		svc.Stop()
		cancel()
		<-done
	})
	f.client = query.NewClient(nc)
	f.waitCaughtUp(t)
	return f
}

// waitCaughtUp waits until the projector applied the stream's last
// message. It polls, because WaitApplied misses the sequence of a restored
// snapshot when no message follows it.
func (f *auditFixture) waitCaughtUp(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := f.js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for f.runner.Applied() < info.State.LastSeq {
		select {
		case <-ctx.Done():
			t.Fatalf("projector applied %d of %d", f.runner.Applied(), info.State.LastSeq)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// simulateInto publishes a simulated history of users accounts on 3 nodes
// to js.
func simulateInto(t *testing.T, js jetstream.JetStream, users, count int, seed uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := simulate.Config{Users: users, Events: count, Seed: seed, BatchSize: 200}
	if _, err := simulate.Run(ctx, js, cfg, nil); err != nil {
		t.Fatalf("simulate: %v", err)
	}
}

// storedMessage is one message of the event stream.
type storedMessage struct {
	seq     uint64
	subject string
	data    []byte
	event   *events.Event
}

// readStream returns every message of the event stream in stream order,
// read with direct gets so that it shares no code with the scans under
// test. event is nil for a message that is not a valid event.
func readStream(t *testing.T, js jetstream.JetStream) []storedMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []storedMessage
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			continue // deleted or purged
		}
		m := storedMessage{seq: seq, subject: msg.Subject, data: msg.Data}
		if e, err := events.Decode(msg.Data); err == nil {
			m.event = e
		}
		out = append(out, m)
	}
	return out
}

// replayCut folds every valid stored event whose time is not after cut, in
// stream order, into a fresh state: the reference for views at cut.
func replayCut(msgs []storedMessage, cut time.Time) *projector.State {
	s := projector.NewState()
	for _, m := range msgs {
		if m.event != nil && !m.event.Time.After(cut) {
			_ = s.Apply(m.event)
		}
	}
	return s
}

// replayAll folds every valid stored event into a fresh state.
func replayAll(msgs []storedMessage) *projector.State {
	s := projector.NewState()
	for _, m := range msgs {
		if m.event != nil {
			_ = s.Apply(m.event)
		}
	}
	return s
}

func viewAt(s *projector.State, user string, at time.Time) []projector.ClientView {
	return s.Clients(user, projector.ViewOptions{Now: at, HeartbeatTimeout: auditTimeout})
}

// simulatedUsers returns the accounts of a simulation of n users.
func simulatedUsers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "user" + strconv.Itoa(i+1) + "@" + simulate.DefaultDomain
	}
	return out
}

// publish publishes evs and waits until the projector applied them.
func (f *auditFixture) publish(t *testing.T, evs ...*events.Event) {
	t.Helper()
	var last uint64
	for _, e := range evs {
		seq, err := f.pub.Publish(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		last = seq
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.runner.WaitApplied(ctx, last); err != nil {
		t.Fatal(err)
	}
}

// aliceAndBobOn publishes, for alice, a password client (Gajim), a FAST
// client (Conversations) and a grant-only client (Movim), and for bob one
// password client.
func aliceAndBobOn(t *testing.T, f *auditFixture) {
	t.Helper()
	gajim := &events.Client{ID: "gajim-1", Software: "Gajim", Version: "1.9.5", Device: "laptop"}
	conv := &events.Client{ID: "conv-1", Software: "Conversations", Version: "2.16.5", Device: "phone"}
	e1 := ev(events.AuthPassword, "alice@example.test", 0)
	e1.Session, e1.Client, e1.Mechanism = &events.Session{ID: "s1"}, gajim, "SCRAM-SHA-256"
	e2 := ev(events.SessionBound, "alice@example.test", time.Second)
	e2.Session, e2.Client = &events.Session{ID: "s1", Resource: "gajim.A"}, gajim
	e3 := ev(events.FastMinted, "alice@example.test", 2*time.Second)
	e3.Client, e3.Fast = conv, &events.Fast{Fingerprint: "sha256:aaaa"}
	e4 := ev(events.AuthFast, "alice@example.test", 3*time.Second)
	e4.Client, e4.Session, e4.Fast = conv, &events.Session{ID: "s2"}, &events.Fast{Fingerprint: "sha256:aaaa"}
	e5 := ev(events.SessionBound, "alice@example.test", 4*time.Second)
	e5.Client, e5.Session = conv, &events.Session{ID: "s2", Resource: "conv.B"}
	e6 := ev(events.GrantUsed, "alice@example.test", 5*time.Second)
	e6.Grant = &events.Grant{ID: "g1", Name: "Movim", URI: "https://movim.eu/", Permission: "normal"}
	b1 := ev(events.AuthPassword, "bob@example.test", 0)
	b1.Session, b1.Client = &events.Session{ID: "s9"}, &events.Client{ID: "bob-gajim", Software: "Gajim"}
	f.publish(t, e1, e2, e3, e4, e5, e6, b1)
}

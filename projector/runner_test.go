package projector_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/natstest"
	"github.com/clientele-xmpp/clientele/projector"
)

var base = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

// fixedNow keeps views independent of the wall clock.
func fixedNow() time.Time { return base.Add(time.Hour) }

type pipeline struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	pub *events.Publisher
}

func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	nc, js := natstest.Start(t).Connect(t)
	if err := events.EnsureStreams(context.Background(), js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	return &pipeline{nc: nc, js: js, pub: events.NewPublisher(js, events.PublisherOptions{})}
}

// startRunner runs a Runner until the test ends and returns it with a
// function that stops it and waits for its final snapshot.
func startRunner(t *testing.T, js jetstream.JetStream, bucket string, m *projector.Metrics) (*projector.Runner, func()) {
	t.Helper()
	r := projector.NewRunner(projector.Config{JS: js, SnapshotBucket: bucket, SnapshotInterval: -1, Now: fixedNow, Metrics: m})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runner: %v", err)
		}
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			stop()
		}
	})
	return r, stop
}

// history makes a deterministic mix of events for users user0..user(n-1).
func history(seed uint64, users, count int) []*events.Event {
	rng := rand.New(rand.NewPCG(seed, 1))
	var out []*events.Event
	for i := range count {
		u := fmt.Sprintf("user%d@example.test", rng.IntN(users))
		node := fmt.Sprintf("xmpp-%d", rng.IntN(2))
		client := fmt.Sprintf("client-%d", rng.IntN(4))
		sid := fmt.Sprintf("s%d", rng.IntN(8))
		e := &events.Event{ID: fmt.Sprintf("ev-%d-%d", seed, i), V: 1, Time: base.Add(time.Duration(i) * time.Second), Node: node, User: u}
		switch rng.IntN(6) {
		case 0:
			e.Type, e.Session, e.Client = events.AuthPassword, &events.Session{ID: sid}, &events.Client{ID: client, Software: "Gajim", Version: "1.9.5"}
		case 1:
			e.Type, e.Session, e.Client = events.SessionBound, &events.Session{ID: sid, Resource: "res-" + sid}, &events.Client{ID: client}
		case 2:
			e.Type, e.Session = events.SessionUnbound, &events.Session{ID: sid}
		case 3:
			e.Type, e.Grant = events.GrantUsed, &events.Grant{ID: "grant-" + client, Name: "Movim", Permission: "normal"}
		case 4:
			e.Type, e.Client, e.Fast = events.FastMinted, &events.Client{ID: client}, &events.Fast{Fingerprint: "sha256:" + client}
		default:
			e.Type, e.Session, e.Client = events.SessionHibernated, &events.Session{ID: sid}, &events.Client{ID: client}
		}
		out = append(out, e)
	}
	return out
}

func (p *pipeline) publishAll(t *testing.T, evs []*events.Event) uint64 {
	t.Helper()
	results, err := p.pub.PublishBatch(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for i, r := range results {
		if r.Err != nil {
			t.Fatalf("event %d: %v", i, r.Err)
		}
		last = max(last, r.Seq)
	}
	return last
}

func waitApplied(t *testing.T, r *projector.Runner, seq uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.WaitApplied(ctx, seq); err != nil {
		t.Fatal(err)
	}
}

func viewsJSON(t *testing.T, r *projector.Runner, users int) string {
	t.Helper()
	all := map[string][]projector.ClientView{}
	for i := range users {
		u := fmt.Sprintf("user%d@example.test", i)
		all[u], _ = r.Clients(u)
	}
	data, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestRestartFromSnapshotEqualsReplay(t *testing.T) {
	p := newPipeline(t)
	const users = 6
	first := history(1, users, 300)
	seq := p.publishAll(t, first)

	a, stopA := startRunner(t, p.js, "snap-a", nil)
	waitApplied(t, a, seq)
	stopA()

	store, err := p.js.ObjectStore(context.Background(), "snap-a")
	if err != nil {
		t.Fatal(err)
	}
	data, err := store.GetBytes(context.Background(), "state")
	if err != nil {
		t.Fatalf("no snapshot after shutdown: %v", err)
	}
	if _, snapSeq, err := projector.DecodeSnapshot(data); err != nil || snapSeq != seq {
		t.Fatalf("snapshot seq = %d, err %v; want seq %d", snapSeq, err, seq)
	}
	info, err := store.GetInfo(context.Background(), "state")
	if err != nil {
		t.Fatal(err)
	}
	if maxChunks := uint32(info.Size/(64<<10)) + 1; info.Chunks > maxChunks {
		t.Errorf("snapshot of %d bytes stored in %d chunks, want at most %d", info.Size, info.Chunks, maxChunks)
	}

	seq = p.publishAll(t, history(2, users, 200))

	reg := prometheus.NewRegistry()
	b, _ := startRunner(t, p.js, "snap-a", projector.NewMetrics(reg))
	waitApplied(t, b, seq)
	fresh, _ := startRunner(t, p.js, "snap-fresh", nil)
	waitApplied(t, fresh, seq)

	if got := testutil.ToFloat64(mustCounter(t, reg, "clientele_events_applied_total")); got != 200 {
		t.Errorf("restored runner applied %v events, want only the 200 after the snapshot", got)
	}
	if got, want := viewsJSON(t, b, users), viewsJSON(t, fresh, users); got != want {
		t.Errorf("views after restore differ from a full replay\nrestored: %s\nreplay:   %s", got, want)
	}
}

// mustCounter sums a counter family across its labels as a gauge-like
// collector for testutil.
func mustCounter(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sum"})
	g.Set(total)
	return g
}

func TestCorruptSnapshotSkipped(t *testing.T) {
	p := newPipeline(t)
	seq := p.publishAll(t, history(3, 4, 100))
	store, err := p.js.CreateOrUpdateObjectStore(context.Background(), jetstream.ObjectStoreConfig{Bucket: "snap-bad"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutBytes(context.Background(), "state", []byte("\x1f\x8b torn")); err != nil {
		t.Fatal(err)
	}
	r, _ := startRunner(t, p.js, "snap-bad", nil)
	waitApplied(t, r, seq)
	fresh, _ := startRunner(t, p.js, "snap-good", nil)
	waitApplied(t, fresh, seq)
	if got, want := viewsJSON(t, r, 4), viewsJSON(t, fresh, 4); got != want {
		t.Errorf("views after a corrupt snapshot differ from a replay\ngot:  %s\nwant: %s", got, want)
	}
}

func TestMalformedMessageDeadLettered(t *testing.T) {
	p := newPipeline(t)
	reg := prometheus.NewRegistry()
	r, _ := startRunner(t, p.js, "snap", projector.NewMetrics(reg))

	bad, err := p.js.Publish(context.Background(), events.UserSubjectPrefix+".x.y.session.bound", []byte(`{"id": "broken`))
	if err != nil {
		t.Fatal(err)
	}
	good := &events.Event{ID: "after-bad", Type: events.AuthPassword, V: 1, Time: base, Node: "xmpp-1",
		User: "alice@example.test", Session: &events.Session{ID: "s1"}, Client: &events.Client{ID: "c1"}}
	seq, err := p.pub.Publish(context.Background(), good)
	if err != nil {
		t.Fatal(err)
	}
	waitApplied(t, r, seq)

	if clients, _ := r.Clients("alice@example.test"); len(clients) != 1 {
		t.Errorf("alice has %d clients after a malformed message, want 1", len(clients))
	}
	if got := testutil.ToFloat64(mustCounter(t, reg, "clientele_events_rejected_total")); got != 1 {
		t.Errorf("rejected = %v, want 1", got)
	}

	dl, err := p.js.Stream(context.Background(), "CLIENTELE_DEADLETTER")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		msg, err := dl.GetLastMsgForSubject(context.Background(), events.DeadLetterSubject)
		if err == nil {
			if got := msg.Header.Get("Clientele-Seq"); got != fmt.Sprint(bad.Sequence) {
				t.Errorf("dead letter Clientele-Seq = %q, want %d", got, bad.Sequence)
			}
			if string(msg.Data) != `{"id": "broken` {
				t.Errorf("dead letter data = %q, want the original message", msg.Data)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dead letter: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReadyAfterCatchUp(t *testing.T) {
	p := newPipeline(t)
	seq := p.publishAll(t, history(4, 3, 50))
	r := projector.NewRunner(projector.Config{JS: p.js, SnapshotInterval: -1, Now: fixedNow})
	if err := r.Ready(); err == nil {
		t.Fatal("Ready before Run = nil, want an error")
	}
	early, cancelEarly := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelEarly()
	if err := r.WaitReady(early); !errors.Is(err, projector.ErrNotReady) {
		t.Errorf("WaitReady before Run = %v, want ErrNotReady", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	wait, cancelWait := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelWait()
	if err := r.WaitReady(wait); err != nil {
		t.Fatalf("WaitReady while catching up: %v", err)
	}
	if applied := r.Applied(); applied < seq {
		t.Errorf("WaitReady returned at sequence %d, before the stream's last %d", applied, seq)
	}
	if err := r.Ready(); err != nil {
		t.Errorf("Ready after catching up: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWaitAppliedWokenByRestore(t *testing.T) {
	p := newPipeline(t)
	seq := p.publishAll(t, history(5, 3, 40))
	first, stop := startRunner(t, p.js, "snap-wake", nil)
	waitApplied(t, first, seq)
	stop()

	// No event arrives after the restore, so only the restore itself can
	// wake the waiter.
	r := projector.NewRunner(projector.Config{JS: p.js, SnapshotBucket: "snap-wake", SnapshotInterval: -1, Now: fixedNow})
	waited := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		waited <- r.WaitApplied(ctx, seq)
	}()
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	if err := <-waited; err != nil {
		t.Errorf("WaitApplied after a restore to sequence %d: %v", seq, err)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

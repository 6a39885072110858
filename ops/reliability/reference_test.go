package reliability_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/simulate"
	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

// simulatedStart is the time of the first simulated event. It lies years
// before any test run, so that every grant and FAST token of the simulated
// history has expired by the wall clock, and views computed at the wall
// clock do not depend on the moment of the computation.
var simulatedStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// newGenerator returns the deterministic simulated history of seed.
func newGenerator(t *testing.T, seed uint64, nodes, users int, domain string) *simulate.Generator {
	t.Helper()
	g, err := simulate.NewGenerator(simulate.Config{Seed: seed, Nodes: nodes, Users: users, Domain: domain, Start: simulatedStart})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func userNames(users int, domain string) []string {
	names := make([]string, users)
	for i := range names {
		names[i] = fmt.Sprintf("user%d@%s", i+1, domain)
	}
	return names
}

// mirror is a fresh replay of the event stream: it folds every message
// with projector.State.Apply, as a projector without snapshot does, and
// reads on from where it stopped on each catchUp.
type mirror struct {
	state   *projector.State
	applied uint64
	// copies maps each event id to the stream sequences that store it.
	copies map[string][]uint64
	// nodes lists the node of every folded event in stream order.
	nodes []string
	// heartbeats counts the distinct node.heartbeat events.
	heartbeats int
	rejected   int
}

func newMirror() *mirror {
	return &mirror{state: projector.NewState(), copies: make(map[string][]uint64)}
}

// catchUp folds the messages after the applied sequence up to the last
// sequence of the stream at the time of the call. A read that fails while a
// cluster elects a new stream leader is tried again, from the sequence
// already applied, for up to 30 seconds.
func (m *mirror) catchUp(ctx context.Context, js jetstream.JetStream) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := m.catchUpOnce(ctx, js)
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// catchUpOnce reads and folds the stream once, as catchUp describes.
func (m *mirror) catchUpOnce(ctx context.Context, js jetstream.JetStream) error {
	stream, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		return fmt.Errorf("mirror: stream: %w", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("mirror: stream info: %w", err)
	}
	last := info.State.LastSeq
	if last <= m.applied {
		return nil
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: m.applied + 1,
	})
	if err != nil {
		return fmt.Errorf("mirror: consumer: %w", err)
	}
	for m.applied < last {
		batch, err := cons.Fetch(int(min(1000, last-m.applied)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return fmt.Errorf("mirror: fetch after sequence %d: %w", m.applied, err)
		}
		n := 0
		for msg := range batch.Messages() {
			meta, err := msg.Metadata()
			if err != nil {
				return fmt.Errorf("mirror: metadata: %w", err)
			}
			m.apply(meta.Sequence.Stream, msg.Data())
			n++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return fmt.Errorf("mirror: fetch after sequence %d: %w", m.applied, err)
		}
		if n == 0 {
			return fmt.Errorf("mirror: no message after sequence %d of %d", m.applied, last)
		}
	}
	return nil
}

func (m *mirror) apply(seq uint64, data []byte) {
	m.applied = seq
	e, err := events.Decode(data)
	if err == nil {
		err = m.state.Apply(e)
	}
	if err != nil {
		m.rejected++
		return
	}
	m.copies[e.ID] = append(m.copies[e.ID], seq)
	m.nodes = append(m.nodes, e.Node)
	if e.Type == events.NodeHeartbeat && len(m.copies[e.ID]) == 1 {
		m.heartbeats++
	}
}

// clientsJSON returns the JSON of the clients of user in state at opts.
func clientsJSON(state *projector.State, user string, opts projector.ViewOptions) string {
	return mustJSON(state.Clients(user, opts))
}

func mustJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(data)
}

// wallClockViews are the view options of a serve started with
// --heartbeat-timeout noHeartbeatTimeout, at the current time.
func wallClockViews() projector.ViewOptions {
	return projector.ViewOptions{Now: time.Now(), HeartbeatTimeout: noHeartbeatTimeout}
}

// divergence is a user whose listed clients differ from the replay.
type divergence struct {
	user      string
	got, want string
}

func (d divergence) String() string {
	return fmt.Sprintf("%s:\n  service: %s\n  replay:  %s", d.user, d.got, d.want)
}

// compareService lists every user through the query service, waiting for
// the mirror's applied sequence, and returns the users whose clients
// differ from the mirror. The stream must not grow meanwhile.
func compareService(ctx context.Context, qc *query.Client, m *mirror, users []string) ([]divergence, error) {
	var out []divergence
	for _, user := range users {
		reply, err := qc.List(ctx, query.ListRequest{User: user, MinSeq: m.applied})
		if err != nil {
			return out, fmt.Errorf("list %s at sequence %d: %w", user, m.applied, err)
		}
		if reply.Seq != m.applied {
			return out, fmt.Errorf("list %s: service applied sequence %d, the replay %d", user, reply.Seq, m.applied)
		}
		got, want := mustJSON(reply.Clients), clientsJSON(m.state, user, wallClockViews())
		if got != want {
			out = append(out, divergence{user: user, got: got, want: want})
		}
	}
	return out, nil
}

// tracker publishes a generated history and records which events JetStream
// acknowledged. Events whose publish failed are published again, with
// the same ids, before new ones. Its methods are safe for concurrent use.
type tracker struct {
	pub *events.Publisher
	gen *simulate.Generator

	mu        sync.Mutex
	acked     map[string]uint64
	retry     []*events.Event
	generated int
	failures  int
}

func newTracker(js jetstream.JetStream, gen *simulate.Generator, opts events.PublisherOptions) *tracker {
	return &tracker{pub: events.NewPublisher(js, opts), gen: gen, acked: make(map[string]uint64)}
}

// step publishes the events that wait for a retry and up to n new ones,
// and returns how many were acknowledged.
func (tr *tracker) step(ctx context.Context, n int) (int, error) {
	tr.mu.Lock()
	batch := tr.retry
	tr.retry = nil
	for range n {
		e, err := tr.gen.Next()
		if err != nil {
			tr.mu.Unlock()
			return 0, err
		}
		batch = append(batch, e)
		tr.generated++
	}
	tr.mu.Unlock()
	if len(batch) == 0 {
		return 0, nil
	}

	results, err := tr.pub.PublishBatch(ctx, batch)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	acked := 0
	for i, r := range results {
		if r.Err == nil {
			tr.acked[batch[i].ID] = r.Seq
			acked++
			continue
		}
		if errors.Is(r.Err, events.ErrInvalid) {
			return acked, fmt.Errorf("generated event %s rejected: %w", batch[i].ID, r.Err)
		}
		tr.failures++
		tr.retry = append(tr.retry, batch[i])
	}
	return acked, err
}

// drain publishes the events that wait for a retry until none is left or
// ctx ends.
func (tr *tracker) drain(ctx context.Context) error {
	for tr.pending() > 0 {
		if _, err := tr.step(ctx, 0); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%d events still not acknowledged: %w", tr.pending(), err)
		}
	}
	return nil
}

func (tr *tracker) pending() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.retry)
}

// check returns the acknowledged events that the stream does not store at
// their acknowledged sequence, and the events stored more than once.
func (tr *tracker) check(m *mirror) (lost, twice []string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for id, seq := range tr.acked {
		copies := m.copies[id]
		if len(copies) == 0 || copies[0] != seq {
			lost = append(lost, fmt.Sprintf("%s (acknowledged at %d, stored at %v)", id, seq, copies))
		}
	}
	for id, copies := range m.copies {
		if len(copies) > 1 {
			twice = append(twice, fmt.Sprintf("%s at %v", id, copies))
		}
	}
	return lost, twice
}

package reliability_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/natstest"
	"github.com/clientele-xmpp/clientele/projector"
)

// orderPlan sizes the duplicates and order test.
type orderPlan struct {
	events, nodes, users int
}

func orderPlanFor(long bool) orderPlan {
	if long {
		return orderPlan{events: 50_000, nodes: 6, users: 200}
	}
	return orderPlan{events: 3_000, nodes: 4, users: 25}
}

// duplicateWindow is the duplicate window of the streams in this test,
// short so that a retry can arrive after it.
const duplicateWindow = 200 * time.Millisecond

// copyPlan is how one case publishes the history: the stream's content and
// how many copies it is expected to hold.
type copyPlan struct {
	name    string
	publish func(t *testing.T, srv *natstest.Server, js jetstream.JetStream, history []*events.Event) (stored int)
}

// TestDuplicatesAndOrder publishes one simulated history through JetStream
// in several ways. The copies are in order, with retries of the same event
// ids inside and after the duplicate window, with the nodes' events
// interleaved at random, and with every node publishing concurrently on its
// own connection. A Runner folds each stream, and its views of every
// account must equal those of the history folded in its original order, at
// two times.
func TestDuplicatesAndOrder(t *testing.T) {
	plan := orderPlanFor(longRun())
	gen := newGenerator(t, 21, plan.nodes, plan.users, "order.test")
	history := make([]*events.Event, plan.events)
	for i := range history {
		e, err := gen.Next()
		if err != nil {
			t.Fatal(err)
		}
		history[i] = e
	}
	reference := projector.NewState()
	for _, e := range history {
		if err := reference.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	// At the first time the sessions of every node are live. At the second
	// one every grant and token has expired and every node has timed out.
	times := []time.Time{gen.Clock().Add(time.Minute), gen.Clock().Add(100 * 24 * time.Hour)}
	users := userNames(plan.users, "order.test")

	cases := []copyPlan{
		{"clean ordered copy", publishInOrder},
		{"retries inside the duplicate window", publishRetries},
		{"retries after the duplicate window", publishLateRetries},
		{"nodes interleaved at random", publishInterleaved(1)},
		{"nodes interleaved at random again", publishInterleaved(2)},
		{"nodes publishing concurrently", publishConcurrently},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := natstest.Start(t)
			_, js := srv.Connect(t)
			ctx := context.Background()
			if err := events.EnsureStreams(ctx, js, events.StreamOptions{Duplicates: duplicateWindow}); err != nil {
				t.Fatal(err)
			}
			stored := tc.publish(t, srv, js, history)

			stream, err := js.Stream(ctx, events.StreamName)
			if err != nil {
				t.Fatal(err)
			}
			info, err := stream.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.State.Msgs != uint64(stored) {
				t.Errorf("stream holds %d messages, want %d", info.State.Msgs, stored)
			}

			var now atomic.Pointer[time.Time]
			now.Store(&times[0])
			runner := runRunner(t, js, func() time.Time { return *now.Load() })
			waitApplied(t, runner, info.State.LastSeq)
			for _, at := range times {
				now.Store(&at)
				opts := projector.ViewOptions{Now: at, HeartbeatTimeout: 2 * time.Minute}
				listed := 0
				for _, user := range users {
					got, _ := runner.Clients(user)
					listed += len(got)
					if g, w := mustJSON(got), clientsJSON(reference, user, opts); g != w {
						t.Errorf("views of %s at %s differ from the ordered history:\ngot:  %s\nwant: %s", user, at.Format(time.RFC3339), g, w)
					}
				}
				if listed == 0 {
					t.Errorf("no client listed at %s, so the comparison checks nothing", at.Format(time.RFC3339))
				}
			}
		})
	}
}

// runRunner runs a Runner without snapshots on js until the test ends.
func runRunner(t *testing.T, js jetstream.JetStream, now func() time.Time) *projector.Runner {
	t.Helper()
	r := projector.NewRunner(projector.Config{JS: js, SnapshotInterval: -1, HeartbeatTimeout: 2 * time.Minute, Now: now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runner: %v", err)
		}
	})
	return r
}

func waitApplied(t *testing.T, r *projector.Runner, seq uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.WaitApplied(ctx, seq); err != nil {
		t.Fatal(err)
	}
}

// publishBatches publishes evs in batches of 100 and returns the results.
func publishBatches(t *testing.T, pub *events.Publisher, evs []*events.Event) []events.Result {
	t.Helper()
	var out []events.Result
	for start := 0; start < len(evs); start += 100 {
		results, err := pub.PublishBatch(context.Background(), evs[start:min(start+100, len(evs))])
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range results {
			if r.Err != nil {
				t.Fatalf("event %s: %v", evs[start+i].ID, r.Err)
			}
		}
		out = append(out, results...)
	}
	return out
}

func publishInOrder(t *testing.T, _ *natstest.Server, js jetstream.JetStream, history []*events.Event) int {
	publishBatches(t, events.NewPublisher(js, events.PublisherOptions{}), history)
	return len(history)
}

// publishRetries publishes the history with a third of its events sent
// again, with the same id, up to 50 events later, as a node does that did
// not see an acknowledgement. Each retry must be acknowledged as a
// duplicate of the first copy.
func publishRetries(t *testing.T, _ *natstest.Server, js jetstream.JetStream, history []*events.Event) int {
	rng := rand.New(rand.NewPCG(3, 3))
	sent := make([]*events.Event, 0, len(history)*4/3)
	retried := map[int]bool{}
	for i, e := range history {
		sent = append(sent, e)
		if rng.IntN(3) == 0 && i > 0 {
			back := max(0, len(sent)-1-rng.IntN(50))
			sent = append(sent, sent[back])
			retried[len(sent)-1] = true
		}
	}
	results := publishBatches(t, events.NewPublisher(js, events.PublisherOptions{}), sent)

	first := map[string]uint64{}
	for i, r := range results {
		id := sent[i].ID
		if seq, seen := first[id]; seen {
			if !r.Duplicate || r.Seq != seq {
				t.Errorf("retry of %s = %+v, want a duplicate of sequence %d", id, r, seq)
			}
			continue
		}
		if r.Duplicate {
			t.Errorf("first copy of %s acknowledged as a duplicate", id)
		}
		first[id] = r.Seq
	}
	t.Logf("%d events with %d retries inside the duplicate window", len(history), len(retried))
	return len(history)
}

// publishLateRetries publishes the history in three parts and, after each
// part, waits out the duplicate window and sends a tenth of the events of
// that part again. JetStream stores these late retries a second time, and
// the fold must ignore them.
func publishLateRetries(t *testing.T, _ *natstest.Server, js jetstream.JetStream, history []*events.Event) int {
	rng := rand.New(rand.NewPCG(4, 4))
	pub := events.NewPublisher(js, events.PublisherOptions{})
	late := 0
	third := len(history)/3 + 1
	for start := 0; start < len(history); start += third {
		part := history[start:min(start+third, len(history))]
		publishBatches(t, pub, part)
		var again []*events.Event
		for _, e := range part {
			if rng.IntN(10) == 0 {
				again = append(again, e)
			}
		}
		time.Sleep(duplicateWindow + 100*time.Millisecond)
		for i, r := range publishBatches(t, pub, again) {
			if r.Duplicate {
				t.Errorf("late retry of %s acknowledged as a duplicate, want it stored again", again[i].ID)
			}
		}
		late += len(again)
	}
	t.Logf("%d events with %d retries after the duplicate window", len(history), late)
	return len(history) + late
}

// byNode splits history into the event sequences of its nodes, each in
// the order of the history.
func byNode(history []*events.Event) [][]*events.Event {
	index := map[string]int{}
	var out [][]*events.Event
	for _, e := range history {
		i, ok := index[e.Node]
		if !ok {
			i = len(out)
			index[e.Node] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], e)
	}
	return out
}

// publishInterleaved publishes the events of all nodes in one random merge
// of their sequences: each node's events keep their order, and the nodes
// take turns at random.
func publishInterleaved(seed uint64) func(*testing.T, *natstest.Server, jetstream.JetStream, []*events.Event) int {
	return func(t *testing.T, _ *natstest.Server, js jetstream.JetStream, history []*events.Event) int {
		rng := rand.New(rand.NewPCG(seed, 5))
		queues := byNode(history)
		merged := make([]*events.Event, 0, len(history))
		for len(merged) < len(history) {
			q := rng.IntN(len(queues))
			if len(queues[q]) == 0 {
				continue
			}
			take := 1 + rng.IntN(min(20, len(queues[q])))
			merged = append(merged, queues[q][:take]...)
			queues[q] = queues[q][take:]
		}
		t.Logf("%d events of %d nodes, %d moved from their place in the history", len(history), len(byNode(history)), moved(history, merged))
		publishBatches(t, events.NewPublisher(js, events.PublisherOptions{}), merged)
		return len(history)
	}
}

func moved(a, b []*events.Event) int {
	n := 0
	for i := range a {
		if a[i].ID != b[i].ID {
			n++
		}
	}
	return n
}

// publishConcurrently publishes each node's events in order from its own
// goroutine and NATS connection, in batches of random size, so that the
// stream interleaves them as the server receives them.
func publishConcurrently(t *testing.T, srv *natstest.Server, js jetstream.JetStream, history []*events.Event) int {
	nodes := byNode(history)
	var wg sync.WaitGroup
	errs := make(chan error, len(nodes))
	for i, evs := range nodes {
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		njs, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 6))
			pub := events.NewPublisher(njs, events.PublisherOptions{})
			for len(evs) > 0 {
				n := min(len(evs), 1+rng.IntN(30))
				results, err := pub.PublishBatch(context.Background(), evs[:n])
				for k, r := range results {
					if r.Err != nil {
						errs <- fmt.Errorf("event %s: %w", evs[k].ID, r.Err)
						return
					}
				}
				if err != nil {
					errs <- err
					return
				}
				evs = evs[n:]
				time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	switches := nodeSwitches(t, js)
	t.Logf("%d events of %d nodes, %d changes of node along the stream", len(history), len(nodes), switches)
	if switches < len(nodes) {
		t.Errorf("the stream changes node only %d times, so the nodes did not interleave", switches)
	}
	return len(history)
}

// nodeSwitches counts how often the node changes from one stream message
// to the next.
func nodeSwitches(t *testing.T, js jetstream.JetStream) int {
	t.Helper()
	m := newMirror()
	if err := m.catchUp(context.Background(), js); err != nil {
		t.Fatal(err)
	}
	switches := 0
	for i := 1; i < len(m.nodes); i++ {
		if m.nodes[i] != m.nodes[i-1] {
			switches++
		}
	}
	return switches
}

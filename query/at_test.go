package query_test

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

// randomCuts returns n random times between the earliest and the latest
// stored event, plus a few minutes, so that some cuts fall among the
// heartbeats that the simulator sends with the wall-clock time.
func randomCuts(r *rand.Rand, msgs []storedMessage, n int) []time.Time {
	var first, last time.Time
	for _, m := range msgs {
		if m.event == nil {
			continue
		}
		if first.IsZero() || m.event.Time.Before(first) {
			first = m.event.Time
		}
		if m.event.Time.After(last) {
			last = m.event.Time
		}
	}
	span := last.Add(5 * time.Minute).Sub(first.Add(-time.Minute))
	cuts := make([]time.Time, n)
	for i := range cuts {
		cuts[i] = first.Add(-time.Minute).Add(time.Duration(r.Int64N(int64(span))))
	}
	return cuts
}

func TestClientsAtEqualsReplayCut(t *testing.T) {
	f := newAuditFixture(t, auditSetup{beforeRunner: func(t *testing.T, js jetstream.JetStream) {
		simulateInto(t, js, 5, 1500, 21)
	}})
	msgs := readStream(t, f.js)
	users := simulatedUsers(5)
	r := rand.New(rand.NewPCG(21, 5))
	listed, connected, fullScans := 0, 0, 0

	for i, cut := range randomCuts(r, msgs, 40) {
		user := users[i%len(users)]
		want := viewAt(replayCut(msgs, cut), user, cut)
		got, err := f.client.ClientsAt(context.Background(), query.ClientsAtRequest{User: user, At: cut})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Clients, want) {
			t.Fatalf("%s at %s:\n got %+v\nwant %+v", user, cut.Format(time.RFC3339Nano), got.Clients, want)
		}
		listed += len(want)
		for _, c := range want {
			if c.Connected {
				connected++
			}
		}
		if got.Replay.FullScan {
			fullScans++
		}
	}
	// The comparison means little unless the cuts saw listed and connected
	// clients.
	if listed == 0 || connected == 0 {
		t.Errorf("the random cuts saw %d listed and %d connected clients; want some of both", listed, connected)
	}
	t.Logf("40 cuts: %d listed clients, %d connected, %d full scans", listed, connected, fullScans)
}

func TestDiffEqualsDifferenceOfReplays(t *testing.T) {
	f := newAuditFixture(t, auditSetup{beforeRunner: func(t *testing.T, js jetstream.JetStream) {
		simulateInto(t, js, 4, 1000, 22)
	}})
	msgs := readStream(t, f.js)
	users := simulatedUsers(4)
	r := rand.New(rand.NewPCG(22, 4))
	cuts := randomCuts(r, msgs, 40)
	changes := 0

	for i := 0; i < len(cuts); i += 2 {
		user := users[(i/2)%len(users)]
		from, to := cuts[i], cuts[i+1]
		want := query.CompareViews(viewAt(replayCut(msgs, from), user, from), viewAt(replayCut(msgs, to), user, to))
		got, err := f.client.Diff(context.Background(), query.DiffRequest{User: user, From: from, To: to})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Diff, want) {
			t.Fatalf("%s from %s to %s:\n got %+v\nwant %+v", user, from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano), got.Diff, want)
		}
		changes += len(want.Added) + len(want.Changed) + len(want.Removed)
	}
	if changes == 0 {
		t.Error("no random pair of cuts saw a change, so the comparison means little")
	}
}

// TestClientsAtNodeLiveness covers the ways a node's liveness at a past
// time is settled: by its heartbeats near the cut, by another account's
// events only, by its silence after a crash, and by its lack of node
// events. Event times lie
// just before the time of storage, as with real nodes, so that the
// heartbeats are found by their stored time.
func TestClientsAtNodeLiveness(t *testing.T) {
	f := newAuditFixture(t, auditSetup{})
	start := time.Now().UTC().Add(-10 * time.Minute)
	at := func(sec int) time.Time { return start.Add(time.Duration(sec) * time.Second) }
	var evs []*events.Event
	add := func(typ events.Type, node, user string, t time.Time, change func(e *events.Event)) {
		e := &events.Event{ID: events.NewID(), Type: typ, V: 1, Time: t, Node: node, User: user}
		if change != nil {
			change(e)
		}
		evs = append(evs, e)
	}
	bind := func(node, user, session string, t time.Time) {
		add(events.AuthPassword, node, user, t, func(e *events.Event) {
			e.Session, e.Client = &events.Session{ID: session}, &events.Client{ID: "c-" + session, Software: "Gajim"}
		})
		add(events.SessionBound, node, user, t.Add(time.Second), func(e *events.Event) {
			e.Session, e.Client = &events.Session{ID: session, Resource: "r-" + session}, &events.Client{ID: "c-" + session}
		})
	}
	for _, node := range []string{"beating", "busy", "crashed"} {
		add(events.NodeStarted, node, "", at(0), func(e *events.Event) { e.Boot = node + "-1" })
	}
	bind("beating", "alice@example.test", "s1", at(10))
	bind("busy", "alice@example.test", "s2", at(10))
	bind("crashed", "alice@example.test", "s3", at(10))
	bind("beating", "carol@example.test", "s4", at(10))
	// Node quiet sends no node events, so the heartbeat timeout does not
	// apply to it.
	bind("quiet", "dave@example.test", "s5", at(10))
	for sec := 30; sec <= 600; sec += 30 {
		add(events.NodeHeartbeat, "beating", "", at(sec), nil)
		// bob's logins are the only sign of life of node busy.
		add(events.AuthPassword, "busy", "bob@example.test", at(sec), func(e *events.Event) {
			e.Session = &events.Session{ID: "b" + e.ID}
		})
	}
	f.publish(t, evs...)
	msgs := readStream(t, f.js)
	cut := at(600)

	cases := []struct {
		user      string
		connected map[string]bool
		fullScan  bool
	}{
		{"carol@example.test", map[string]bool{"s4": true}, false},
		{"dave@example.test", map[string]bool{"s5": true}, false},
		{"alice@example.test", map[string]bool{"s1": true, "s2": true, "s3": false}, true},
	}
	for _, tc := range cases {
		want := viewAt(replayCut(msgs, cut), tc.user, cut)
		got, err := f.client.ClientsAt(context.Background(), query.ClientsAtRequest{User: tc.user, At: cut})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Clients, want) {
			t.Fatalf("clients of %s at %s:\n got %+v\nwant %+v", tc.user, cut, got.Clients, want)
		}
		connected := map[string]bool{}
		for _, c := range got.Clients {
			connected[c.ID] = c.Connected
		}
		for session, wantConnected := range tc.connected {
			id := projector.ListingID(tc.user, "c:c-"+session)
			if connected[id] != wantConnected {
				t.Errorf("%s: session %s connected = %v, want %v", tc.user, session, connected[id], wantConnected)
			}
		}
		if got.Replay.FullScan != tc.fullScan {
			t.Errorf("%s: full scan = %v, want %v", tc.user, got.Replay.FullScan, tc.fullScan)
		}
	}
}

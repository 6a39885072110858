package query

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
)

type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) advance(d time.Duration) { c.now = c.now.Add(d) }

const (
	alice = "alice@example.test"
	bob   = "bob@example.test"
)

func unbound(node, user, session string) *events.Event {
	return &events.Event{Type: events.SessionUnbound, Node: node, User: user, Session: &events.Session{ID: session}}
}

func grantEnded(typ events.Type, user, grant string) *events.Event {
	return &events.Event{Type: typ, Node: "xmpp-1", User: user, Grant: &events.Grant{ID: grant}}
}

func fastRevoked(user, fingerprint string) *events.Event {
	return &events.Event{Type: events.FastRevoked, Node: "xmpp-1", User: user, Fast: &events.Fast{Fingerprint: fingerprint}}
}

func nodeEvent(typ events.Type, node string) *events.Event {
	return &events.Event{Type: typ, Node: node, Boot: "boot-2"}
}

// fullTarget is a client with a session on each of two nodes, a grant and a
// FAST token.
var fullTarget = projector.Target{
	Sessions: []events.SessionRef{{Node: "xmpp-1", ID: "s1"}, {Node: "xmpp-2", ID: "s2"}},
	Grants:   []string{"g1"},
	Fast:     []string{"sha256:f1"},
}

// trackerRun is the state a case acts on.
type trackerRun struct {
	t       *testing.T
	tracker *RevokeTracker
	clock   *fakeClock
}

// track resolves and tracks target of alice in one watch.
func (r *trackerRun) track(target projector.Target) *pendingRevoke {
	w := r.tracker.watch()
	defer w.close()
	return w.track(alice, target)
}

func (r *trackerRun) apply(evs ...*events.Event) {
	for _, e := range evs {
		r.tracker.Applied(e)
	}
}

func TestRevokeTracker(t *testing.T) {
	cases := []struct {
		name            string
		maxPending      int
		run             func(r *trackerRun)
		wantConfirmed   uint64
		wantSum         float64
		wantPending     float64
		wantOldest      float64
		wantUnconfirmed float64
	}{
		{
			name: "every item ended",
			run: func(r *trackerRun) {
				r.track(fullTarget)
				r.clock.advance(2 * time.Second)
				r.apply(fastRevoked(alice, "sha256:f1"), unbound("xmpp-2", alice, "s2"),
					grantEnded(events.GrantRevoked, alice, "g1"), unbound("xmpp-1", alice, "s1"))
			},
			wantConfirmed: 1, wantSum: 2,
		},
		{
			name: "some items still open",
			run: func(r *trackerRun) {
				r.track(fullTarget)
				r.clock.advance(3 * time.Second)
				r.apply(unbound("xmpp-1", alice, "s1"), grantEnded(events.GrantRevoked, alice, "g1"), fastRevoked(alice, "sha256:f1"))
			},
			wantPending: 1, wantOldest: 3,
		},
		{
			name: "expired grant and node restart end their items",
			run: func(r *trackerRun) {
				r.track(fullTarget)
				r.clock.advance(time.Second)
				r.apply(grantEnded(events.GrantExpired, alice, "g1"), fastRevoked(alice, "sha256:f1"),
					nodeEvent(events.NodeStarted, "xmpp-1"), nodeEvent(events.NodeStopped, "xmpp-2"))
			},
			wantConfirmed: 1, wantSum: 1,
		},
		{
			name: "heartbeat ends nothing",
			run: func(r *trackerRun) {
				r.track(projector.Target{Sessions: []events.SessionRef{{Node: "xmpp-1", ID: "s1"}}})
				r.apply(nodeEvent(events.NodeHeartbeat, "xmpp-1"))
			},
			wantPending: 1,
		},
		{
			name: "items of another account end nothing",
			run: func(r *trackerRun) {
				r.track(fullTarget)
				r.apply(unbound("xmpp-1", bob, "s1"), unbound("xmpp-2", bob, "s2"),
					grantEnded(events.GrantRevoked, bob, "g1"), fastRevoked(bob, "sha256:f1"))
			},
			wantPending: 1,
		},
		{
			name: "session of another node ends nothing",
			run: func(r *trackerRun) {
				r.track(projector.Target{Sessions: []events.SessionRef{{Node: "xmpp-1", ID: "s1"}}})
				r.apply(unbound("xmpp-2", alice, "s1"), nodeEvent(events.NodeStarted, "xmpp-10"))
			},
			wantPending: 1,
		},
		{
			name: "item ended between watch and track",
			run: func(r *trackerRun) {
				w := r.tracker.watch()
				r.apply(unbound("xmpp-1", alice, "s1"))
				r.clock.advance(time.Second)
				w.track(alice, projector.Target{Sessions: []events.SessionRef{{Node: "xmpp-1", ID: "s1"}}})
				w.close()
			},
			wantConfirmed: 1, wantSum: 0,
		},
		{
			name: "item ended before watch is not remembered",
			run: func(r *trackerRun) {
				r.apply(unbound("xmpp-1", alice, "s1"))
				r.track(projector.Target{Sessions: []events.SessionRef{{Node: "xmpp-1", ID: "s1"}}})
			},
			wantPending: 1,
		},
		{
			name: "node restart before track does not end tracked sessions",
			run: func(r *trackerRun) {
				w := r.tracker.watch()
				r.apply(nodeEvent(events.NodeStarted, "xmpp-1"))
				w.track(alice, projector.Target{Sessions: []events.SessionRef{{Node: "xmpp-1", ID: "s1"}}})
				w.close()
			},
			wantPending: 1,
		},
		{
			name: "unconfirmed after the maximum age",
			run: func(r *trackerRun) {
				r.track(fullTarget)
				r.clock.advance(DefaultConfirmMaxAge + time.Second)
				r.tracker.Pending()
				r.apply(unbound("xmpp-1", alice, "s1"), unbound("xmpp-2", alice, "s2"),
					grantEnded(events.GrantRevoked, alice, "g1"), fastRevoked(alice, "sha256:f1"))
			},
			wantUnconfirmed: 1,
		},
		{
			name:       "oldest dropped beyond the maximum pending",
			maxPending: 2,
			run: func(r *trackerRun) {
				for i := range 3 {
					r.track(projector.Target{Grants: []string{string(rune('a' + i))}})
					r.clock.advance(time.Second)
				}
			},
			wantPending: 2, wantOldest: 2, wantUnconfirmed: 1,
		},
		{
			name: "cancelled revoke is neither pending nor unconfirmed",
			run: func(r *trackerRun) {
				w := r.tracker.watch()
				p := w.track(alice, fullTarget)
				w.cancel(p)
				w.close()
				r.apply(unbound("xmpp-1", alice, "s1"))
			},
		},
		{
			name: "client with nothing to end is not tracked",
			run: func(r *trackerRun) {
				if p := r.track(projector.Target{}); p != nil {
					r.t.Errorf("track of an empty target = %+v, want nil", p)
				}
			},
		},
		{
			name: "two revokes of one session",
			run: func(r *trackerRun) {
				r.track(projector.Target{Sessions: []events.SessionRef{{Node: "xmpp-1", ID: "s1"}}})
				r.clock.advance(time.Second)
				r.track(projector.Target{Sessions: []events.SessionRef{{Node: "xmpp-1", ID: "s1"}}, Grants: []string{"g1"}})
				r.clock.advance(time.Second)
				r.apply(unbound("xmpp-1", alice, "s1"))
			},
			wantConfirmed: 1, wantSum: 2, wantPending: 1, wantOldest: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := NewMetrics(reg)
			clock := &fakeClock{now: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
			tracker := NewRevokeTracker(RevokeTrackerConfig{Metrics: m, MaxPending: c.maxPending, Now: clock.Now})
			c.run(&trackerRun{t: t, tracker: tracker, clock: clock})

			if got := testutil.ToFloat64(m.expired); got != c.wantUnconfirmed {
				t.Errorf("clientele_revocations_unconfirmed_total = %v, want %v", got, c.wantUnconfirmed)
			}
			count, sum := histogramOf(t, reg, "clientele_revocation_confirmation_seconds")
			if count != c.wantConfirmed {
				t.Errorf("confirmations = %d, want %d", count, c.wantConfirmed)
			}
			if sum != c.wantSum {
				t.Errorf("confirmation seconds sum = %v, want %v", sum, c.wantSum)
			}
			if got := gaugeOf(t, reg, "clientele_revocations_pending"); got != c.wantPending {
				t.Errorf("clientele_revocations_pending = %v, want %v", got, c.wantPending)
			}
			if got := gaugeOf(t, reg, "clientele_revocations_oldest_pending_seconds"); got != c.wantOldest {
				t.Errorf("clientele_revocations_oldest_pending_seconds = %v, want %v", got, c.wantOldest)
			}
		})
	}
}

func TestRevokeTrackerForgetsEndedItems(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
	tracker := NewRevokeTracker(RevokeTrackerConfig{Now: clock.Now})
	r := &trackerRun{t: t, tracker: tracker, clock: clock}

	r.track(fullTarget)
	r.track(projector.Target{Grants: []string{"g2"}})
	r.apply(unbound("xmpp-1", alice, "s1"), unbound("xmpp-2", alice, "s2"),
		grantEnded(events.GrantRevoked, alice, "g1"), fastRevoked(alice, "sha256:f1"))
	clock.advance(2 * DefaultConfirmMaxAge)
	if n, _ := tracker.Pending(); n != 0 {
		t.Errorf("pending = %d after expiry, want 0", n)
	}
	if len(tracker.items) != 0 {
		t.Errorf("tracker still indexes %d items, want none", len(tracker.items))
	}
	if len(tracker.queue) != 0 {
		t.Errorf("tracker queue holds %d revokes, want none", len(tracker.queue))
	}
	if tracker.recent.ticks != nil {
		t.Errorf("tracker keeps %d recent endings with no watch open, want none", len(tracker.recent.ticks))
	}
}

func TestRecentRingKeepsNewest(t *testing.T) {
	var r recentRing
	for i := range recentEndings + 10 {
		r.add(string(rune(i)), uint64(i+1))
	}
	if r.since(string(rune(0)), 0) {
		t.Error("the oldest ending is still kept after the ring wrapped")
	}
	newest := recentEndings + 9
	if !r.since(string(rune(newest)), uint64(newest)) {
		t.Error("the newest ending is not kept")
	}
	if r.since(string(rune(newest)), uint64(newest+1)) {
		t.Error("since reports an ending at the given tick as later")
	}
	if len(r.ticks) != recentEndings {
		t.Errorf("ring indexes %d keys, want %d", len(r.ticks), recentEndings)
	}
}

func histogramOf(t *testing.T, reg *prometheus.Registry, name string) (uint64, float64) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			h := f.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	t.Fatalf("%s not gathered", name)
	return 0, 0
}

func gaugeOf(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("%s not gathered", name)
	return 0
}

func TestRevokeTrackerCompactsQueue(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
	tracker := NewRevokeTracker(RevokeTrackerConfig{Now: clock.Now})
	r := &trackerRun{t: t, tracker: tracker, clock: clock}

	r.track(projector.Target{Grants: []string{"stuck"}})
	for i := range 3 * compactSlack {
		grant := fmt.Sprintf("g%d", i)
		r.track(projector.Target{Grants: []string{grant}})
		r.apply(grantEnded(events.GrantRevoked, alice, grant))
	}
	if n, _ := tracker.Pending(); n != 1 {
		t.Errorf("pending = %d, want 1: only the stuck revoke", n)
	}
	if limit := 2 + compactSlack + 1; len(tracker.queue) > limit {
		t.Errorf("queue holds %d revokes behind one pending, want at most %d", len(tracker.queue), limit)
	}
	if tracker.queue[0].done {
		t.Error("compact dropped the pending revoke from the front of the queue")
	}
}

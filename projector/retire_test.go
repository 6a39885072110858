package projector

import (
	"hash/fnv"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
)

// TestDroppedSessionsKeepViews folds the histories of the property test,
// in several orders and with duplicates, once dropping ended sessions and
// once keeping them. The views, revoke targets and statistics must not
// differ.
func TestDroppedSessionsKeepViews(t *testing.T) {
	dropped := 0
	for seed := uint64(1); seed <= propertySeeds; seed++ {
		history := generateHistory(seed)
		now := history[len(history)-1].Time.Add(time.Minute)
		r := rand.New(rand.NewPCG(seed, 0xd209))
		orders := [][]*events.Event{history}
		for range 3 {
			order := interleave(r, history)
			orders = append(orders, order, withDuplicates(r, order))
		}
		for k, order := range orders {
			keep := &State{Users: map[string]*Account{}, Nodes: map[string]*Node{}, nodeNames: map[string]string{}, keepEnded: true}
			drop := NewState()
			want := viewsOfState(t, keep, order, now)
			got := viewsOfState(t, drop, order, now)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d, order %d: views with ended sessions dropped differ: %s\norder:\n%s",
					seed, k, difference(got, want), describe(order))
			}
			opt := ViewOptions{Now: now, HeartbeatTimeout: 5 * time.Minute}
			if g, w := drop.Stats(opt, nil), keep.Stats(opt, nil); !reflect.DeepEqual(g, w) {
				t.Fatalf("seed %d, order %d: statistics %+v, want %+v", seed, k, g, w)
			}
			dropped += countSessions(keep) - countSessions(drop)
		}
	}
	if dropped == 0 {
		t.Error("no history had an ended session to drop, so the test covers nothing")
	}
}

func countSessions(s *State) int {
	n := 0
	for _, a := range s.Users {
		n += len(a.Sessions)
	}
	return n
}

// TestEndedSessionStaysEnded checks that a copy of an event of a dropped
// session, such as a resent session.bound, does not bring it back.
func TestEndedSessionStaysEnded(t *testing.T) {
	login := testEvent(events.AuthPassword, 0, withClient(events.Client{ID: "c1", Software: "Gajim"}), withSession("s1", ""))
	bound := testEvent(events.SessionBound, 1, withSession("s1", "res"))
	unbound := testEvent(events.SessionUnbound, 2, withSession("s1", ""))
	s := foldEvents(t, []*events.Event{login, bound, unbound, bound, login})

	a := s.Users[alice]
	if a.Sessions != nil {
		t.Errorf("account keeps %d sessions in a slice after the only one ended, want nil as a decoded snapshot has", len(a.Sessions))
	}
	views := s.Clients(alice, defaultView)
	if len(views) != 1 {
		t.Fatalf("clients = %s, want the password client", toJSON(views))
	}
	v := views[0]
	if v.Connected {
		t.Error("a copy of session.bound after the end connected the client again")
	}
	if v.Type != TypeSession {
		t.Errorf("client type = %s, want %s", v.Type, TypeSession)
	}
	if !v.FirstSeen.Equal(login.Time) {
		t.Errorf("first seen = %s, want the login at %s", v.FirstSeen, login.Time)
	}
	if !v.LastSeen.Equal(unbound.Time) {
		t.Errorf("last seen = %s, want the unbind at %s", v.LastSeen, unbound.Time)
	}
}

// TestEndedKeyIsFNV1a pins endedKey to hash/fnv, because snapshots store
// the keys.
func TestEndedKeyIsFNV1a(t *testing.T) {
	for _, tc := range [][2]string{{"xmpp-1", "s1"}, {"", ""}, {"node", "session-\x00-ü"}} {
		h := fnv.New64a()
		h.Write([]byte(tc[0] + "\x00" + tc[1]))
		if got, want := endedKey(tc[0], tc[1]), h.Sum64(); got != want {
			t.Errorf("endedKey(%q, %q) = %#x, want %#x", tc[0], tc[1], got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { endedKey("xmpp-1", "s1") }); n != 0 {
		t.Errorf("endedKey allocates %.0f times, want 0", n)
	}
}

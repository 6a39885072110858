package projector

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
)

var (
	sessionKind = ClientKind{Type: TypeSession}
	legacyKind  = ClientKind{Type: TypeSession, Legacy: true}
	accessKind  = ClientKind{Type: TypeAccess}
)

// liveNode1 starts node1 at minute 0 and heartbeats at minute 55, so that
// it is live at defaultView.
func liveNode1() []*events.Event {
	return []*events.Event{
		testEvent(events.NodeStarted, 0, withBoot("boot-1")),
		testEvent(events.NodeHeartbeat, 55),
	}
}

func TestStatsCounts(t *testing.T) {
	cases := []struct {
		name     string
		history  []*events.Event
		opt      ViewOptions
		users    int
		clients  map[ClientKind]int
		sessions int
		nodes    int
	}{
		{
			name:    "empty state",
			clients: map[ClientKind]int{},
		},
		{
			name: "password client with a bound session",
			history: append(liveNode1(),
				testEvent(events.AuthPassword, 1, withClient(gajimNew), withSession("s1", "")),
				testEvent(events.SessionBound, 2, withClient(gajimNew), withSession("s1", "gajim.1")),
			),
			users: 1, clients: map[ClientKind]int{sessionKind: 1}, sessions: 1, nodes: 1,
		},
		{
			name: "hibernated session is connected",
			history: append(liveNode1(),
				testEvent(events.AuthPassword, 1, withClient(dino), withSession("s1", "")),
				testEvent(events.SessionBound, 2, withClient(dino), withSession("s1", "dino.1")),
				testEvent(events.SessionHibernated, 3, withClient(dino), withSession("s1", "")),
			),
			users: 1, clients: map[ClientKind]int{sessionKind: 1}, sessions: 1, nodes: 1,
		},
		{
			name: "unbound session leaves the password client listed",
			history: append(liveNode1(),
				testEvent(events.AuthPassword, 1, withClient(dino), withSession("s1", "")),
				testEvent(events.SessionBound, 2, withClient(dino), withSession("s1", "dino.1")),
				testEvent(events.SessionUnbound, 3, withSession("s1", "")),
			),
			users: 1, clients: map[ClientKind]int{sessionKind: 1}, sessions: 0, nodes: 1,
		},
		{
			name: "legacy client by resource",
			history: append(liveNode1(),
				testEvent(events.AuthPassword, 1, withSession("s1", "")),
				testEvent(events.SessionBound, 2, withSession("s1", "pidgin")),
			),
			users: 1, clients: map[ClientKind]int{legacyKind: 1}, sessions: 1, nodes: 1,
		},
		{
			name: "grant without a session is an access client",
			history: []*events.Event{
				testEvent(events.GrantIssued, 1, withGrant(events.Grant{ID: "g1", Name: "Movim"})),
			},
			users: 1, clients: map[ClientKind]int{accessKind: 1},
		},
		{
			name: "revoked client without password drops out",
			history: append(liveNode1(),
				testEvent(events.AuthFast, 1, withClient(conv), withSession("s1", ""), withFast("sha256:f1", time.Time{})),
				testEvent(events.FastMinted, 1, withClient(conv), withFast("sha256:f1", time.Time{})),
				testEvent(events.SessionBound, 2, withClient(conv), withSession("s1", "conv.1")),
				testEvent(events.ClientRevoked, 3, withTarget(clientKeyID(alice, conv.ID))),
			),
			users: 1, clients: map[ClientKind]int{}, sessions: 0, nodes: 1,
		},
		{
			name: "deleted account counts as a user only",
			history: append(liveNode1(),
				testEvent(events.AuthPassword, 1, withClient(dino), withSession("s1", "")),
				testEvent(events.SessionBound, 2, withClient(dino), withSession("s1", "dino.1")),
				testEvent(events.AccountDeleted, 3),
			),
			users: 1, clients: map[ClientKind]int{}, sessions: 0, nodes: 1,
		},
		{
			name: "two accounts on two nodes",
			history: append(liveNode1(),
				testEvent(events.NodeStarted, 0, onNode(node2), withBoot("boot-2")),
				testEvent(events.NodeHeartbeat, 58, onNode(node2)),
				testEvent(events.AuthPassword, 1, withClient(dino), withSession("s1", "")),
				testEvent(events.SessionBound, 2, withClient(dino), withSession("s1", "dino.1")),
				testEvent(events.AuthPassword, 4, forUser(bob), onNode(node2), withClient(gajimTwo), withSession("s1", "")),
				testEvent(events.SessionBound, 5, forUser(bob), onNode(node2), withClient(gajimTwo), withSession("s1", "gajim.2")),
				testEvent(events.GrantIssued, 6, forUser(bob), withGrant(events.Grant{ID: "g1", Name: "Movim"})),
			),
			users: 2, clients: map[ClientKind]int{sessionKind: 2, accessKind: 1}, sessions: 2, nodes: 2,
		},
		{
			name: "silent node ends its sessions",
			history: []*events.Event{
				testEvent(events.NodeStarted, 0, withBoot("boot-1")),
				testEvent(events.AuthPassword, 1, withClient(dino), withSession("s1", "")),
				testEvent(events.SessionBound, 2, withClient(dino), withSession("s1", "dino.1")),
			},
			opt:   ViewOptions{Now: atMinute(60), HeartbeatTimeout: 10 * time.Minute},
			users: 1, clients: map[ClientKind]int{sessionKind: 1}, sessions: 0, nodes: 0,
		},
		{
			name: "heartbeat timeout disabled keeps a silent node live",
			history: []*events.Event{
				testEvent(events.NodeStarted, 0, withBoot("boot-1")),
			},
			opt:     ViewOptions{Now: atMinute(60)},
			clients: map[ClientKind]int{}, nodes: 1,
		},
		{
			name: "stopped node is not live",
			history: []*events.Event{
				testEvent(events.NodeStarted, 0, withBoot("boot-1")),
				testEvent(events.NodeStopped, 5),
				testEvent(events.NodeHeartbeat, 55),
			},
			clients: map[ClientKind]int{}, nodes: 0,
		},
		{
			name: "restarted node is live",
			history: []*events.Event{
				testEvent(events.NodeStarted, 0, withBoot("boot-1")),
				testEvent(events.NodeStopped, 5),
				testEvent(events.NodeStarted, 10, withBoot("boot-2")),
				testEvent(events.NodeHeartbeat, 55),
			},
			clients: map[ClientKind]int{}, nodes: 1,
		},
		{
			name: "node with only user events is not counted",
			history: []*events.Event{
				testEvent(events.GrantUsed, 50, onNode(node2), withGrant(events.Grant{ID: "g1"})),
			},
			users: 1, clients: map[ClientKind]int{accessKind: 1}, nodes: 0,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opt := c.opt
			if opt.Now.IsZero() {
				opt = defaultView
			}
			st := foldEvents(t, c.history).Stats(opt, nil)
			if st.Users != c.users {
				t.Errorf("Users = %d, want %d", st.Users, c.users)
			}
			if !maps.Equal(st.Clients, c.clients) {
				t.Errorf("Clients = %v, want %v", st.Clients, c.clients)
			}
			if st.ConnectedSessions != c.sessions {
				t.Errorf("ConnectedSessions = %d, want %d", st.ConnectedSessions, c.sessions)
			}
			if st.LiveNodes != c.nodes {
				t.Errorf("LiveNodes = %d, want %d", st.LiveNodes, c.nodes)
			}
		})
	}
}

// statsState returns a State of users accounts, each with a bound password
// session on node1, a grant-only client and an ended legacy session.
func statsState(tb testing.TB, users int) *State {
	tb.Helper()
	s := NewState()
	apply := func(e *events.Event) {
		if err := s.Apply(e); err != nil {
			tb.Fatal(err)
		}
	}
	for _, e := range liveNode1() {
		apply(e)
	}
	for i := range users {
		u := forUser(fmt.Sprintf("user%d@example.test", i))
		apply(testEvent(events.AuthPassword, 1, u, withClient(gajimNew), withSession("s1", "")))
		apply(testEvent(events.SessionBound, 2, u, withClient(gajimNew), withSession("s1", "gajim.1")))
		apply(testEvent(events.GrantIssued, 3, u, withGrant(events.Grant{ID: "g1", Name: "Movim"})))
		apply(testEvent(events.SessionBound, 4, u, withSession("s2", "pidgin")))
		apply(testEvent(events.SessionUnbound, 5, u, withSession("s2", "")))
	}
	return s
}

func TestStatsPausesBetweenBatches(t *testing.T) {
	const users = 2*statsBatch + 500
	s := statsState(t, users)
	pauses := 0
	st := s.Stats(defaultView, func() {
		pauses++
		// A change during the pause, as the consumer makes, must not break
		// the count of the accounts that were there before.
		if err := s.Apply(testEvent(events.GrantIssued, 6, forUser(fmt.Sprintf("new%d@example.test", pauses)), withGrant(events.Grant{ID: "g9"}))); err != nil {
			t.Fatal(err)
		}
	})
	if pauses != 2 {
		t.Errorf("pause called %d times for %d accounts, want 2", pauses, users)
	}
	if st.Users < users || st.Users > users+pauses {
		t.Errorf("Users = %d, want between %d and %d", st.Users, users, users+pauses)
	}
	if got := st.Clients[sessionKind]; got != users {
		t.Errorf("session clients = %d, want %d", got, users)
	}
	if got := st.Clients[legacyKind]; got != 0 {
		t.Errorf("legacy clients = %d, want 0: their sessions ended and they hold no access", got)
	}
	if got := st.ConnectedSessions; got != users {
		t.Errorf("ConnectedSessions = %d, want %d", got, users)
	}
}

// BenchmarkStats measures one count of a state of 100,000 accounts with
// three clients each.
func BenchmarkStats(b *testing.B) {
	s := statsState(b, 100_000)
	b.ResetTimer()
	for b.Loop() {
		s.Stats(defaultView, func() {})
	}
}

package simulate

import (
	"slices"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
)

var revokeTime = testStart.Add(8 * time.Hour)

// revokeFixture returns a generator after 3000 events, between two actions.
func revokeFixture(t *testing.T) *Generator {
	t.Helper()
	g := newTestGenerator(t, Config{Nodes: 3, Users: 30, Events: 3000, Seed: 5})
	generate(t, g, 3000)
	for g.midAction() {
		generate(t, g, 1)
	}
	return g
}

// findSession returns the first live session that match accepts.
func findSession(t *testing.T, g *Generator, match func(SessionInfo) bool) SessionInfo {
	t.Helper()
	for _, s := range g.Sessions() {
		if match(s) {
			return s
		}
	}
	t.Fatal("no live session matches")
	return SessionInfo{}
}

func revokeCommand(user string) *events.Command {
	return &events.Command{ID: "01JCMD0000000000000000TEST", Type: events.CommandRevoke, Time: revokeTime, User: user, Target: "client/test"}
}

// revokeOnAll runs Revoke on every node and returns the events in node order.
func revokeOnAll(t *testing.T, g *Generator, cmd *events.Command) []*events.Event {
	t.Helper()
	var out []*events.Event
	for _, node := range g.Nodes() {
		evs, err := g.Revoke(node, cmd, revokeTime)
		if err != nil {
			t.Fatalf("Revoke(%s): %v", node, err)
		}
		for _, e := range evs {
			if e.Node != node {
				t.Errorf("Revoke(%s) returned an event of node %s", node, e.Node)
			}
			if err := events.Validate(e); err != nil {
				t.Errorf("Revoke(%s) returned an invalid event: %v", node, err)
			}
		}
		out = append(out, evs...)
	}
	return out
}

func hasSession(g *Generator, node, id string) bool {
	return slices.ContainsFunc(g.Sessions(), func(s SessionInfo) bool { return s.Node == node && s.ID == id })
}

func checkUnbound(t *testing.T, evs []*events.Event, s SessionInfo) {
	t.Helper()
	for _, e := range evs {
		if e.Type != events.SessionUnbound {
			continue
		}
		if e.Node != s.Node || e.Session.ID != s.ID {
			t.Errorf("session.unbound of %s/%s; want %s/%s", e.Node, e.Session.ID, s.Node, s.ID)
		}
		if e.Reason != reasonRevoked {
			t.Errorf("session.unbound reason %q; want %q", e.Reason, reasonRevoked)
		}
		if !e.Time.Equal(revokeTime) {
			t.Errorf("session.unbound at %v; want the revoke time %v", e.Time, revokeTime)
		}
		return
	}
	t.Errorf("no session.unbound for %s/%s in %d events", s.Node, s.ID, len(evs))
}

func countTypes(evs []*events.Event) map[events.Type]int {
	counts := make(map[events.Type]int)
	for _, e := range evs {
		counts[e.Type]++
	}
	return counts
}

func TestRevokeSessionByRef(t *testing.T) {
	g := revokeFixture(t)
	s := findSession(t, g, func(s SessionInfo) bool { return s.Grant == "" && s.Fast == "" })
	cmd := revokeCommand(s.User)
	cmd.Sessions = []events.SessionRef{{Node: s.Node, ID: s.ID}}

	evs := revokeOnAll(t, g, cmd)
	if len(evs) != 1 {
		t.Fatalf("%d events; want 1 session.unbound: %v", len(evs), countTypes(evs))
	}
	checkUnbound(t, evs, s)
	if hasSession(g, s.Node, s.ID) {
		t.Error("session is still live after its revoke")
	}
	if again := revokeOnAll(t, g, cmd); len(again) != 0 {
		t.Errorf("second revoke returned %d events; want none", len(again))
	}
}

func TestRevokeSessionOnOtherNode(t *testing.T) {
	g := revokeFixture(t)
	s := findSession(t, g, func(SessionInfo) bool { return true })
	cmd := revokeCommand(s.User)
	cmd.Sessions = []events.SessionRef{{Node: "xmpp-9", ID: s.ID}}

	if evs := revokeOnAll(t, g, cmd); len(evs) != 0 {
		t.Errorf("%d events for a session named on another node; want none", len(evs))
	}
	if !hasSession(g, s.Node, s.ID) {
		t.Error("session ended by a command that named another node")
	}
}

func TestRevokeClientID(t *testing.T) {
	g := revokeFixture(t)
	s := findSession(t, g, func(s SessionInfo) bool { return s.Fast != "" })
	cmd := revokeCommand(s.User)
	cmd.ClientID = s.ClientID

	evs := revokeOnAll(t, g, cmd)
	checkUnbound(t, evs, s)
	counts := countTypes(evs)
	if counts[events.SessionUnbound] != 1 || counts[events.FastRevoked] != 1 {
		t.Fatalf("events %v; want one session.unbound and one fast.revoked", counts)
	}
	for _, e := range evs {
		if e.Type == events.FastRevoked && e.Fast.Fingerprint != s.Fast {
			t.Errorf("fast.revoked of %s; want %s", e.Fast.Fingerprint, s.Fast)
		}
	}

	for i, e := range generate(t, g, 5000) {
		if e.ClientID() == s.ClientID {
			t.Fatalf("event %d (%s) of revoked client %s", i, e.Type, s.ClientID)
		}
	}
}

func TestRevokeLegacyResource(t *testing.T) {
	g := revokeFixture(t)
	s := findSession(t, g, func(s SessionInfo) bool { return s.ClientID == "" })
	other := revokeCommand(s.User)
	other.Resources = []string{s.Resource + "x"}
	if evs := revokeOnAll(t, g, other); len(evs) != 0 {
		t.Fatalf("%d events for another resource; want none", len(evs))
	}

	cmd := revokeCommand(s.User)
	cmd.Resources = []string{s.Resource}
	evs := revokeOnAll(t, g, cmd)
	if len(evs) != 1 {
		t.Fatalf("%d events; want 1 session.unbound: %v", len(evs), countTypes(evs))
	}
	checkUnbound(t, evs, s)
}

func TestRevokeGrantAndFast(t *testing.T) {
	g := revokeFixture(t)
	var access GrantInfo
	for _, gr := range g.Grants() {
		if gr.ClientID == "" {
			access = gr
			break
		}
	}
	if access.ID == "" {
		t.Fatal("no access grant in the fixture")
	}
	s := findSession(t, g, func(s SessionInfo) bool { return s.Fast != "" })

	cmd := revokeCommand(access.User)
	cmd.Grants = []string{access.ID}
	evs := revokeOnAll(t, g, cmd)
	if len(evs) != 1 || evs[0].Type != events.GrantRevoked || evs[0].Grant.ID != access.ID || evs[0].Node != access.Node {
		t.Fatalf("events %v; want one grant.revoked of %s from %s", countTypes(evs), access.ID, access.Node)
	}
	if slices.ContainsFunc(g.Grants(), func(gr GrantInfo) bool { return gr.ID == access.ID }) {
		t.Error("grant is still live after its revoke")
	}

	cmd = revokeCommand(s.User)
	cmd.ID = "01JCMD0000000000000000FAST"
	cmd.Fast = []string{s.Fast}
	evs = revokeOnAll(t, g, cmd)
	if len(evs) != 1 || evs[0].Type != events.FastRevoked || evs[0].Fast.Fingerprint != s.Fast {
		t.Fatalf("events %v; want one fast.revoked of %s", countTypes(evs), s.Fast)
	}
	if !hasSession(g, s.Node, s.ID) {
		t.Error("revoking only a FAST token ended the session")
	}
}

func TestRevokeOtherUserSession(t *testing.T) {
	g := revokeFixture(t)
	s := findSession(t, g, func(SessionInfo) bool { return true })
	other := findSession(t, g, func(x SessionInfo) bool { return x.User != s.User })
	cmd := revokeCommand(other.User)
	cmd.Sessions = []events.SessionRef{{Node: s.Node, ID: s.ID}}

	if evs := revokeOnAll(t, g, cmd); len(evs) != 0 {
		t.Errorf("%d events for a session of another account; want none", len(evs))
	}
}

func TestRevokeIgnoredCommands(t *testing.T) {
	g := revokeFixture(t)
	s := findSession(t, g, func(SessionInfo) bool { return true })
	tests := []struct {
		name string
		edit func(*events.Command)
	}{
		{"other type", func(c *events.Command) { c.Type = "purge" }},
		{"unknown account", func(c *events.Command) { c.User = "nobody@example.test" }},
		{"invalid account", func(c *events.Command) { c.User = "not a jid@" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := revokeCommand(s.User)
			cmd.Sessions = []events.SessionRef{{Node: s.Node, ID: s.ID}}
			tc.edit(cmd)
			if evs := revokeOnAll(t, g, cmd); len(evs) != 0 {
				t.Errorf("%d events; want none", len(evs))
			}
		})
	}
	if !hasSession(g, s.Node, s.ID) {
		t.Error("an ignored command ended the session")
	}
}

func TestRevokeUnknownNode(t *testing.T) {
	g := revokeFixture(t)
	if _, err := g.Revoke("xmpp-9", revokeCommand("user1@example.test"), revokeTime); err == nil {
		t.Error("Revoke on xmpp-9 of a 3-node simulation returned no error")
	}
}

func TestRevokeIDsDeterministic(t *testing.T) {
	ids := func() []string {
		g := revokeFixture(t)
		s := findSession(t, g, func(s SessionInfo) bool { return s.Fast != "" })
		cmd := revokeCommand(s.User)
		cmd.ClientID = s.ClientID
		var out []string
		for _, e := range revokeOnAll(t, g, cmd) {
			out = append(out, e.ID)
		}
		return out
	}
	first, second := ids(), ids()
	if !slices.Equal(first, second) {
		t.Errorf("revoke event ids %v, then %v; want the same ids", first, second)
	}
	if len(first) < 2 || first[0] == first[1] {
		t.Errorf("revoke event ids %v; want distinct ids", first)
	}
}

package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/query"
)

var xep82 = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

// seedAccounts publishes, for alice, a password client (Gajim), a FAST
// client (Conversations) and a grant used only over HTTP (Movim), and one
// password client for bob.
func seedAccounts(t *testing.T, s *serveProcess) *nats.Conn {
	t.Helper()
	nc, js := s.connect()
	base := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Millisecond)
	n := 0
	ev := func(typ events.Type, user string) *events.Event {
		n++
		return &events.Event{ID: fmt.Sprintf("e2e-%d", n), Type: typ, V: 1, Time: base.Add(time.Duration(n) * time.Second), Node: "xmpp-1", User: user}
	}
	gajim := &events.Client{ID: "gajim-alice", Software: "Gajim", Version: "1.9.5", URI: "https://gajim.org/", Device: "laptop"}
	conv := &events.Client{ID: "conv-alice", Software: "Conversations", Version: "2.16.5", Device: "phone"}

	a1 := ev(events.AuthPassword, "alice@example.test")
	a1.Client, a1.Session, a1.Mechanism = gajim, &events.Session{ID: "s1"}, "SCRAM-SHA-256"
	a2 := ev(events.SessionBound, "alice@example.test")
	a2.Client, a2.Session = gajim, &events.Session{ID: "s1", Resource: "gajim.A1"}
	a3 := ev(events.FastMinted, "alice@example.test")
	a3.Client, a3.Fast = conv, &events.Fast{Fingerprint: "sha256:c0ffee"}
	a4 := ev(events.AuthFast, "alice@example.test")
	a4.Client, a4.Session, a4.Fast = conv, &events.Session{ID: "s2"}, &events.Fast{Fingerprint: "sha256:c0ffee"}
	a5 := ev(events.SessionBound, "alice@example.test")
	a5.Client, a5.Session = conv, &events.Session{ID: "s2", Resource: "conv.B2"}
	a6 := ev(events.GrantIssued, "alice@example.test")
	a6.Grant = &events.Grant{ID: "movim-1", Name: "Movim", URI: "https://movim.eu/", SoftwareVersion: "0.28", Permission: "normal"}
	a7 := ev(events.GrantUsed, "alice@example.test")
	a7.Grant = &events.Grant{ID: "movim-1"}
	publish(t, js, nc, a1, a2, a3, a4, a5, a6, a7)

	b1 := ev(events.AuthPassword, "bob@example.test")
	b1.Client, b1.Session = &events.Client{ID: "gajim-bob", Software: "Gajim"}, &events.Session{ID: "s3"}
	publish(t, js, nc, b1)
	return nc
}

func serviceList(t *testing.T, nc *nats.Conn, user string) *query.ListReply {
	t.Helper()
	reply, err := query.NewClient(nc).List(context.Background(), query.ListRequest{User: user})
	if err != nil {
		t.Fatal(err)
	}
	return reply
}

func bySoftware(clients []Client, software string) (Client, bool) {
	for _, c := range clients {
		if c.UserAgent != nil && c.UserAgent.Fields["software"] == software {
			return c, true
		}
	}
	return Client{}, false
}

func authNames(c Client, ns string) []string {
	var out []string
	for _, a := range c.Auth {
		if a.NS == ns {
			out = append(out, a.Name)
		}
	}
	return out
}

// routes are the ways alice can address her own account's clients.
func routes(p *Prosody) []struct{ name, to string } {
	return []struct{ name, to string }{
		{"direct", p.ComponentJID},
		{"delegated", ""},
		{"delegated to bare JID", "alice@example.test"},
	}
}

func TestClientAccessThroughProsody(t *testing.T) {
	p := StartProsody(t, Options{})
	s := startClientele(t, p)
	nc := seedAccounts(t, s)
	alice := p.User("alice")
	ctx := context.Background()
	want := serviceList(t, nc, "alice@example.test")
	if len(want.Clients) != 3 {
		t.Fatalf("query service lists %d clients for alice, want 3", len(want.Clients))
	}

	t.Run("list", func(t *testing.T) {
		for _, ns := range []string{NSManageClients, NSCAM} {
			for _, r := range routes(p) {
				out := waitList(t, alice, ns, r.to)
				checkAliceList(t, ns+" "+r.name, ns, out.Clients, want)
			}
		}
	})

	t.Run("revoke by id", func(t *testing.T) {
		conv, _ := bySoftware(waitList(t, alice, NSCAM, "").Clients, "Conversations")
		out := RunClient(t, ctx, alice, Revoke(NSCAM, "", conv.ID), List(NSManageClients, ""))
		if !out[0].OK() {
			t.Fatalf("revoke of Conversations: %s", out[0])
		}
		if _, ok := bySoftware(out[1].Clients, "Conversations"); ok || len(out[1].Clients) != 2 {
			t.Errorf("list after the revoke still shows Conversations or lost another client: %s", out[1])
		}
	})

	t.Run("revoke password client", func(t *testing.T) {
		gajim, _ := bySoftware(waitList(t, alice, NSCAM, "").Clients, "Gajim")
		for _, ns := range []string{NSManageClients, NSCAM} {
			for _, to := range []string{"", p.ComponentJID} {
				out := RunClient(t, ctx, alice, Revoke(ns, to, gajim.ID))[0]
				e := out.StanzaError
				if e == nil || e.Type != "cancel" || e.Condition != "service-unavailable" || e.ConditionNS != NSStanzas {
					t.Errorf("%s to=%q: %s, want cancel/service-unavailable", ns, to, out)
					continue
				}
				if e.AppName != "password-reset-required" || e.AppNS != ns {
					t.Errorf("%s to=%q: application condition %s in %q, want password-reset-required in the request namespace", ns, to, e.AppName, e.AppNS)
				}
			}
		}
		after, _ := bySoftware(waitList(t, alice, NSCAM, "").Clients, "Gajim")
		if after.Connected != "false" || !slices.Equal(authNames(after, NSCAM), []string{"password"}) {
			t.Errorf("Gajim after its revoke: connected=%s auth=%v, want false and only password", after.Connected, authNames(after, NSCAM))
		}
	})

	t.Run("other accounts", func(t *testing.T) { checkIsolation(t, p, nc) })

	t.Run("after clientele restart", func(t *testing.T) {
		s.restart()
		if out := waitList(t, alice, NSCAM, ""); len(out.Clients) != 2 {
			t.Errorf("after restart alice has %d clients, want 2: %s", len(out.Clients), out)
		}
	})

	t.Run("after prosody restart", func(t *testing.T) {
		p.Restart()
		if out := waitList(t, alice, NSManageClients, p.ComponentJID); len(out.Clients) != 2 {
			t.Errorf("after Prosody restart alice has %d clients, want 2: %s", len(out.Clients), out)
		}
	})
}

// waitList lists until a result arrives, for at most 30 seconds, because
// the component may be reconnecting.
func waitList(t *testing.T, spec ClientSpec, ns, to string) Outcome {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := RunClient(t, context.Background(), spec, List(ns, to))[0]
		if out.OK() {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("list %s to=%q: no result within 30s, last: %s", ns, to, out)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func checkAliceList(t *testing.T, route, ns string, got []Client, want *query.ListReply) {
	t.Helper()
	if len(got) != len(want.Clients) {
		t.Errorf("%s: %d clients, want %d", route, len(got), len(want.Clients))
		return
	}
	for i, w := range want.Clients {
		g := got[i]
		if g.ID != w.ID || g.Connected != fmt.Sprint(w.Connected) || g.Type != w.Type {
			t.Errorf("%s: client %d = id %s connected %s type %s, want %s %v %s", route, i, g.ID, g.Connected, g.Type, w.ID, w.Connected, w.Type)
		}
		if !xep82.MatchString(g.FirstSeen) || !xep82.MatchString(g.LastSeen) {
			t.Errorf("%s: %s times %q %q are not XEP-0082 UTC", route, g.ID, g.FirstSeen, g.LastSeen)
		}
		if g.FirstSeen != w.FirstSeen.Format("2006-01-02T15:04:05Z") {
			t.Errorf("%s: %s first-seen %s, want %s", route, g.ID, g.FirstSeen, w.FirstSeen)
		}
		if !slices.Equal(authNames(g, ns), w.Auth) {
			t.Errorf("%s: %s auth %v, want %v", route, g.ID, authNames(g, ns), w.Auth)
		}
		if g.UserAgent == nil || g.UserAgent.Fields["software"] != w.UserAgent.Software || g.UserAgent.Fields["device"] != w.UserAgent.Device || g.UserAgent.Fields["uri"] != w.UserAgent.URI {
			t.Errorf("%s: %s user agent %+v, want %+v", route, g.ID, g.UserAgent, w.UserAgent)
		}
		switch {
		case ns == NSCAM && (g.Permission == nil || g.Permission.Status != w.Permission):
			t.Errorf("%s: %s permission %+v, want %s", route, g.ID, g.Permission, w.Permission)
		case ns == NSManageClients && g.Permission != nil:
			t.Errorf("%s: %s has <permission/> in the Prosody namespace", route, g.ID)
		}
	}
}

// checkIsolation proves that alice can neither list nor revoke the clients
// of bob, and that a refusal about bob looks like one about an account that
// does not exist.
func checkIsolation(t *testing.T, p *Prosody, nc *nats.Conn) {
	alice := p.User("alice")
	ctx := context.Background()
	bobs := serviceList(t, nc, "bob@example.test").Clients
	if len(bobs) != 1 {
		t.Fatalf("bob has %d clients, want 1", len(bobs))
	}
	bobID := bobs[0].ID

	for _, ns := range []string{NSManageClients, NSCAM} {
		out := RunClient(t, ctx, alice,
			List(ns, "bob@example.test"), List(ns, "nobody@example.test"),
			Revoke(ns, "bob@example.test", bobID), Revoke(ns, "nobody@example.test", bobID),
			Revoke(ns, "", bobID), Revoke(ns, p.ComponentJID, bobID), Revoke(ns, "", "client/aaaaaaaaaaaaaaaa"))
		for i, o := range out[:4] {
			if o.Condition() != "forbidden" || o.StanzaError.Type != "auth" {
				t.Errorf("%s action %d: %s, want auth/forbidden", ns, i, o)
			}
		}
		if out[0].StanzaError != nil && out[1].StanzaError != nil && *out[0].StanzaError != *out[1].StanzaError {
			t.Errorf("%s: refusal about bob %+v differs from one about a missing account %+v", ns, *out[0].StanzaError, *out[1].StanzaError)
		}
		for _, o := range out[4:] {
			if o.Condition() != "item-not-found" || o.StanzaError.Type != "cancel" {
				t.Errorf("%s: %s, want cancel/item-not-found", ns, o)
			}
		}
		if *out[4].StanzaError != *out[6].StanzaError {
			t.Errorf("%s: not-found for bob's id %+v differs from an unknown id %+v", ns, *out[4].StanzaError, *out[6].StanzaError)
		}
	}
	if after := serviceList(t, nc, "bob@example.test").Clients; len(after) != 1 || after[0].ID != bobID {
		t.Errorf("bob's clients changed after alice's attempts: %+v", after)
	}
}

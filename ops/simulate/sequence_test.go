package simulate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
)

// sequenceChecker follows an event sequence and reports the first event
// that breaks the order of a session or uses a token that is not live.
type sequenceChecker struct {
	// sessions maps node/session id to the session's state: "auth", "bound"
	// or "hibernated".
	sessions map[string]string
	ended    map[string]bool
	// fast maps user/client id to the live FAST fingerprint.
	fast   map[string]string
	grants map[string]bool
}

func newSequenceChecker() *sequenceChecker {
	return &sequenceChecker{
		sessions: make(map[string]string),
		ended:    make(map[string]bool),
		fast:     make(map[string]string),
		grants:   make(map[string]bool),
	}
}

func (c *sequenceChecker) check(e *events.Event) error {
	switch e.Type {
	case events.NodeStarted, events.NodeStopped:
		c.endNode(e.Node)
		return nil
	case events.AuthPassword, events.AuthFast, events.AuthToken:
		return c.checkAuth(e)
	case events.SessionBound:
		return c.moveSession(e, "auth", "bound")
	case events.SessionHibernated:
		return c.moveSession(e, "bound", "hibernated")
	case events.SessionResumed:
		return c.moveSession(e, "hibernated", "bound")
	case events.SessionUnbound:
		return c.unbind(e)
	case events.FastMinted:
		c.fast[e.User+"/"+e.ClientID()] = e.Fast.Fingerprint
		return nil
	case events.FastRevoked:
		return c.revokeFast(e)
	case events.GrantIssued:
		c.grants[e.Grant.ID] = true
		return nil
	case events.GrantUsed:
		return c.requireGrant(e)
	case events.GrantExpired, events.GrantRevoked:
		err := c.requireGrant(e)
		delete(c.grants, e.Grant.ID)
		return err
	}
	return nil
}

func (c *sequenceChecker) endNode(node string) {
	for key := range c.sessions {
		if strings.HasPrefix(key, node+"/") {
			delete(c.sessions, key)
			c.ended[key] = true
		}
	}
}

func (c *sequenceChecker) checkAuth(e *events.Event) error {
	key := e.Node + "/" + e.Session.ID
	if c.ended[key] || c.sessions[key] != "" {
		return fmt.Errorf("%s of session %s that already exists or ended", e.Type, key)
	}
	switch e.Type {
	case events.AuthFast:
		if c.fast[e.User+"/"+e.ClientID()] == "" {
			return fmt.Errorf("auth.fast of client %s without a live FAST token", e.ClientID())
		}
	case events.AuthToken:
		if err := c.requireGrant(e); err != nil {
			return err
		}
	}
	c.sessions[key] = "auth"
	return nil
}

func (c *sequenceChecker) moveSession(e *events.Event, from, to string) error {
	key := e.Node + "/" + e.Session.ID
	if got := c.sessions[key]; got != from {
		return fmt.Errorf("%s of session %s in state %q (ended %v); want state %q", e.Type, key, got, c.ended[key], from)
	}
	c.sessions[key] = to
	return nil
}

func (c *sequenceChecker) unbind(e *events.Event) error {
	key := e.Node + "/" + e.Session.ID
	if got := c.sessions[key]; got != "bound" && got != "hibernated" {
		return fmt.Errorf("session.unbound of session %s in state %q (ended %v)", key, got, c.ended[key])
	}
	delete(c.sessions, key)
	c.ended[key] = true
	return nil
}

func (c *sequenceChecker) revokeFast(e *events.Event) error {
	key := e.User + "/" + e.ClientID()
	if c.fast[key] != e.Fast.Fingerprint {
		return fmt.Errorf("fast.revoked of %s, which is not the live token of %s", e.Fast.Fingerprint, key)
	}
	delete(c.fast, key)
	return nil
}

func (c *sequenceChecker) requireGrant(e *events.Event) error {
	if !c.grants[e.Grant.ID] {
		return fmt.Errorf("%s of grant %s, which is not live", e.Type, e.Grant.ID)
	}
	return nil
}

func TestGeneratorSessionOrder(t *testing.T) {
	g := newTestGenerator(t, Config{Nodes: 4, Users: 25, Events: 40000, Seed: 7})
	checker := newSequenceChecker()
	for i, e := range generate(t, g, 40000) {
		if err := checker.check(e); err != nil {
			t.Fatalf("event %d (%s, %s): %v", i, e.ID, e.User, err)
		}
	}
}

func TestGeneratorSessionOrderWithRevokes(t *testing.T) {
	g := newTestGenerator(t, Config{Nodes: 3, Users: 10, Events: 20000, Seed: 11})
	checker := newSequenceChecker()
	now := testStart.Add(7 * time.Hour)
	revoked := 0
	for i := range 20000 {
		e, err := g.Next()
		if err != nil {
			t.Fatalf("Next, event %d: %v", i, err)
		}
		if err := checker.check(e); err != nil {
			t.Fatalf("event %d (%s, %s): %v", i, e.ID, e.User, err)
		}
		if i%500 != 499 || g.midAction() {
			continue
		}
		sessions := g.Sessions()
		if len(sessions) == 0 {
			continue
		}
		s := sessions[i%len(sessions)]
		cmd := &events.Command{
			ID: fmt.Sprintf("cmd-%d", i), Type: events.CommandRevoke, Time: now, User: s.User,
			Target: "client/test", ClientID: s.ClientID, Sessions: []events.SessionRef{{Node: s.Node, ID: s.ID}},
		}
		if s.Grant != "" {
			cmd.Grants = []string{s.Grant}
		}
		for _, node := range g.Nodes() {
			evs, err := g.Revoke(node, cmd, now)
			if err != nil {
				t.Fatalf("Revoke(%s, %s): %v", node, cmd.ID, err)
			}
			for _, re := range evs {
				if err := checker.check(re); err != nil {
					t.Fatalf("revoke event of %s (%s): %v", cmd.ID, re.Type, err)
				}
				revoked++
			}
		}
	}
	if revoked == 0 {
		t.Fatal("no revoke produced an event")
	}
}

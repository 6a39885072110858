package simulate

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/oklog/ulid/v2"
)

// Revoke carries out command c on node and returns the events that node
// publishes for it, with time now:
//
//   - session.unbound with reason "revoked" for each session of c.User on
//     node that c names in Sessions or whose client id is c.ClientID. A
//     legacy client has no client id, so its sessions also match by a
//     resource in c.Resources;
//   - grant.revoked for each grant of c.User issued by node that c names in
//     Grants or that belongs to c.ClientID;
//   - fast.revoked for each FAST token of c.User minted by node that c names
//     in Fast or that belongs to c.ClientID.
//
// The ended sessions and revoked tokens leave the simulated state and their
// clients never log in again, so a second Revoke with the same command
// returns no events. Event ids derive from c.ID, node and the revoked item,
// so that a redelivered command publishes the same ids. Commands of other
// types, and commands for accounts that the simulation does not have,
// return no events. An unknown node is an error.
func (g *Generator) Revoke(node string, c *events.Command, now time.Time) ([]*events.Event, error) {
	n := g.byNode[node]
	if n == nil {
		return nil, fmt.Errorf("simulate: revoke on unknown node %q; the nodes are xmpp-1 to xmpp-%d", node, len(g.nodes))
	}
	if c.Type != events.CommandRevoke {
		return nil, nil
	}
	user, err := events.NormaliseUser(c.User)
	if err != nil {
		return nil, nil
	}
	u := g.byJID[user]
	if u == nil {
		return nil, nil
	}

	r := &revocation{cmd: c, node: n, user: u, now: now.UTC()}
	r.endSessions()
	r.revokeGrants()
	r.revokeFast()
	for _, e := range r.out {
		if err := events.Validate(e); err != nil {
			return nil, fmt.Errorf("simulate: revoke %s made an invalid %s event: %w", c.ID, e.Type, err)
		}
	}
	return r.out, nil
}

// revocation collects the events of one command on one node.
type revocation struct {
	cmd  *events.Command
	node *simNode
	user *simUser
	now  time.Time
	out  []*events.Event
}

func (r *revocation) endSessions() {
	for _, c := range r.user.clients {
		s := c.session
		if s == nil || s.node != r.node || !r.namesSession(s) {
			continue
		}
		e := r.emit(events.SessionUnbound, s.id)
		e.Client = clientRef(c)
		e.Session = &events.Session{ID: s.id, Resource: s.resource}
		e.Reason = reasonRevoked
		delete(r.node.sessions, s.id)
		c.session = nil
		c.retired = true
	}
}

func (r *revocation) namesSession(s *simSession) bool {
	ref := events.SessionRef{Node: r.node.name, ID: s.id}
	switch {
	case slices.Contains(r.cmd.Sessions, ref):
		return true
	case s.client.id != "":
		return s.client.id == r.cmd.ClientID
	default:
		return slices.Contains(r.cmd.Resources, s.resource)
	}
}

func (r *revocation) revokeGrants() {
	for _, c := range r.user.clients {
		if c.grant != nil && r.namesGrant(c.grant) {
			r.revokeGrant(c.grant)
			c.grant = nil
			c.retired = true
		}
	}
	remaining := r.user.access[:0]
	for _, gr := range r.user.access {
		if r.namesGrant(gr) {
			r.revokeGrant(gr)
			continue
		}
		remaining = append(remaining, gr)
	}
	clear(r.user.access[len(remaining):])
	r.user.access = remaining
}

func (r *revocation) namesGrant(gr *simGrant) bool {
	if gr.node != r.node.name {
		return false
	}
	return slices.Contains(r.cmd.Grants, gr.id) || (gr.clientID != "" && gr.clientID == r.cmd.ClientID)
}

func (r *revocation) revokeGrant(gr *simGrant) {
	e := r.emit(events.GrantRevoked, gr.id)
	e.Grant = grantBody(gr)
	if gr.clientID != "" {
		e.Client = &events.Client{ID: gr.clientID}
	}
	e.Reason = reasonRevoked
}

func (r *revocation) revokeFast() {
	for _, c := range r.user.clients {
		f := c.fast
		if f == nil || f.node != r.node.name {
			continue
		}
		named := slices.Contains(r.cmd.Fast, f.fingerprint) || (c.id != "" && c.id == r.cmd.ClientID)
		if !named {
			continue
		}
		e := r.emit(events.FastRevoked, f.fingerprint)
		e.Client = clientRef(c)
		e.Fast = &events.Fast{Fingerprint: f.fingerprint, Expires: f.expires}
		e.Reason = reasonRevoked
		c.fast = nil
		c.retired = true
	}
}

// emit appends an event of type t about the item key. Its id is a ULID of
// the command time whose entropy is a hash of the command id, the node, t
// and key.
func (r *revocation) emit(t events.Type, key string) *events.Event {
	stamp := r.cmd.Time
	if stamp.IsZero() {
		stamp = r.now
	}
	sum := sha256.Sum256([]byte(r.cmd.ID + "\x00" + r.node.name + "\x00" + string(t) + "\x00" + key))
	id := ulid.MustNew(ulid.Timestamp(stamp), bytes.NewReader(sum[:10]))

	e := &events.Event{
		ID: id.String(), Type: t, V: events.Version, Time: r.now,
		Node: r.node.name, User: r.user.jid,
	}
	r.out = append(r.out, e)
	return e
}

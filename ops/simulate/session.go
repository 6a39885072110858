package simulate

import (
	"slices"
	"strings"

	"github.com/clientele-xmpp/clientele/events"
)

// closeReasons are the reasons of sessions that end while bound, repeated
// by their relative frequency.
var closeReasons = []string{"logout", "logout", "connection closed", "connection closed", "ping timeout"}

// Reasons of session.unbound events that end hibernated or revoked sessions.
const (
	reasonHibernationTimeout = "hibernation timeout"
	reasonRevoked            = "revoked"
)

// login authenticates c on a random node and binds a session: with its
// OAuth grant if its software logs in that way, else with its FAST token
// when it has a live one, else with the password. A client mints a FAST
// token only when it has no live one, so the token that a revoke command
// names is always the one that the simulation tracks.
func (g *Generator) login(c *simClient) {
	n := g.randomNode()
	s := &simSession{id: g.newToken("s", 10), node: n, client: c}
	if c.id == "" {
		s.resource = c.resource
	} else {
		s.resource = strings.ReplaceAll(c.sw.name, " ", "") + "." + g.newToken("", 3)
	}

	var auth *events.Event
	switch {
	case c.sw.oauth != nil:
		auth = g.loginWithGrant(c, n)
	case c.fast != nil && g.clock.Before(c.fast.expires):
		auth = g.emit(events.AuthFast, n, c.user)
	default:
		auth = g.emit(events.AuthPassword, n, c.user)
		auth.Mechanism = g.pickMechanism()
	}
	auth.Client = clientInfo(c)
	auth.Session = &events.Session{ID: s.id}

	if auth.Type == events.AuthPassword && c.sw.fast {
		g.mintFast(c, n)
	}

	bound := g.emit(events.SessionBound, n, c.user)
	bound.Client = clientInfo(c)
	bound.Session = &events.Session{ID: s.id, Resource: s.resource}
	g.then(func() {
		c.session = s
		n.sessions[s.id] = s
	})
}

// loginWithGrant emits auth.token for c's grant, first replacing the grant
// when it is missing or expired.
func (g *Generator) loginWithGrant(c *simClient, n *simNode) *events.Event {
	gr := c.grant
	if gr != nil && !g.clock.Before(gr.expires) {
		g.emitGrant(events.GrantExpired, n, c.user, gr)
		g.then(func() { c.grant = nil })
		gr = nil
	}
	if gr == nil {
		issued := g.emit(events.GrantIssued, n, c.user)
		gr = &simGrant{
			id: g.newToken("", 10), app: c.sw.oauth, clientID: c.id,
			expires: issued.Time.Add(grantLifetime), node: n.name,
		}
		issued.Grant = grantBody(gr)
		issued.Client = clientInfo(c)
		g.then(func() { c.grant = gr })
	}
	auth := g.emit(events.AuthToken, n, c.user)
	auth.Grant = &events.Grant{ID: gr.id}
	return auth
}

// mintFast emits fast.minted for a new FAST token of c, which replaces an
// expired token of c, if any.
func (g *Generator) mintFast(c *simClient, n *simNode) {
	e := g.emit(events.FastMinted, n, c.user)
	f := &simFast{fingerprint: g.newFingerprint(), expires: e.Time.Add(fastLifetime), node: n.name}
	e.Client = &events.Client{ID: c.id}
	e.Fast = &events.Fast{Fingerprint: f.fingerprint, Expires: f.expires}
	g.then(func() { c.fast = f })
}

func (g *Generator) pickMechanism() string {
	total := 0
	for _, m := range mechanisms {
		total += m.weight
	}
	r := g.rng.IntN(total)
	for _, m := range mechanisms {
		r -= m.weight
		if r < 0 {
			return m.name
		}
	}
	return mechanisms[0].name
}

// continueSession moves a bound session on: an HTTP use of its grant,
// hibernation, or its end.
func (g *Generator) continueSession(s *simSession) {
	c := s.client
	r := g.rng.Float64()
	switch {
	case c.grant != nil && r < 0.15:
		g.emitGrant(events.GrantUsed, s.node, c.user, c.grant).Client = clientRef(c)
	case c.sw.hibernate && r < 0.65:
		g.emitSession(events.SessionHibernated, s)
		g.then(func() { s.hibernated = true })
	default:
		g.endSession(s, pick(g, closeReasons))
	}
}

// wake resumes a hibernated session, or ends it when its stream management
// timeout passed.
func (g *Generator) wake(s *simSession) {
	if g.chance(0.75) {
		g.emitSession(events.SessionResumed, s)
		g.then(func() { s.hibernated = false })
		return
	}
	g.endSession(s, reasonHibernationTimeout)
}

func (g *Generator) endSession(s *simSession, reason string) {
	g.emitSession(events.SessionUnbound, s).Reason = reason
	g.then(func() {
		delete(s.node.sessions, s.id)
		s.client.session = nil
	})
}

func (g *Generator) emitSession(t events.Type, s *simSession) *events.Event {
	e := g.emit(t, s.node, s.client.user)
	e.Client = clientRef(s.client)
	e.Session = &events.Session{ID: s.id, Resource: s.resource}
	return e
}

func (g *Generator) emitGrant(t events.Type, n *simNode, u *simUser, gr *simGrant) *events.Event {
	e := g.emit(t, n, u)
	e.Grant = grantBody(gr)
	return e
}

// grantBody returns the grant of an event. Every grant event carries the
// full description, so that any one of them names the OAuth client.
func grantBody(gr *simGrant) *events.Grant {
	return &events.Grant{
		ID: gr.id, Name: gr.app.name, URI: gr.app.uri,
		SoftwareID: gr.app.softwareID, SoftwareVersion: gr.app.softwareVersion,
		Permission: gr.app.permission, Expires: gr.expires,
	}
}

// issueAccessGrant issues a grant to an access-only app of u on a random
// node.
func (g *Generator) issueAccessGrant(u *simUser) {
	app := &accessApps[g.rng.IntN(len(accessApps))]
	life := grantLifetime
	if app.shortLived {
		life = shortGrantLifetime
	}
	n := g.randomNode()
	e := g.emit(events.GrantIssued, n, u)
	gr := &simGrant{id: g.newToken("", 10), app: app, expires: e.Time.Add(life), node: n.name}
	e.Grant = grantBody(gr)
	g.then(func() { u.access = append(u.access, gr) })
}

// useAccessGrant emits grant.used for the access grant gr of u, or
// grant.expired and removes it once it expired.
func (g *Generator) useAccessGrant(u *simUser, gr *simGrant) {
	if g.clock.Before(gr.expires) {
		g.emitGrant(events.GrantUsed, g.randomNode(), u, gr)
		return
	}
	g.emitGrant(events.GrantExpired, g.byNode[gr.node], u, gr)
	g.then(func() {
		u.access = slices.DeleteFunc(u.access, func(x *simGrant) bool { return x == gr })
	})
}

package simulate

import (
	"strings"
	"time"

	"github.com/clientele-xmpp/clientele/events"
)

// Probabilities of the rare actions, per action.
const (
	pRestartNode    = 1.0 / 4000
	pPasswordChange = 1.0 / 1500
	pNewDevice      = 1.0 / 800
	pAccessGrant    = 1.0 / 60
	pUseAccessGrant = 0.1
)

// Limits on the simulated state of one account.
const (
	maxActiveClients = 6
	maxAccessGrants  = 2
)

// Lifetimes of tokens, in simulated time.
const (
	fastLifetime       = 14 * 24 * time.Hour
	grantLifetime      = 90 * 24 * time.Hour
	shortGrantLifetime = time.Hour
)

// act runs one action of a random account. An action emits zero or more
// events; Next calls act until one emits.
func (g *Generator) act() {
	u := pick(g, g.users)
	r := g.rng.Float64()
	switch {
	case r < pRestartNode:
		g.restartNode(g.randomNode())
	case r < pRestartNode+pPasswordChange:
		g.emit(events.PasswordChanged, g.randomNode(), u)
	case r < pRestartNode+pPasswordChange+pNewDevice:
		g.addClient(u)
	case r < pRestartNode+pPasswordChange+pNewDevice+pAccessGrant && len(u.access) < maxAccessGrants:
		g.issueAccessGrant(u)
	default:
		g.actOnClient(u)
	}
}

// actOnClient moves one client of u a step further, or uses one of its
// access grants.
func (g *Generator) actOnClient(u *simUser) {
	if len(u.access) > 0 && g.chance(pUseAccessGrant) {
		g.useAccessGrant(u, pick(g, u.access))
		return
	}
	c := pick(g, u.clients)
	switch {
	case c.retired:
	case c.session == nil:
		g.login(c)
	case c.session.hibernated:
		g.wake(c.session)
	default:
		g.continueSession(c.session)
	}
}

// addClient gives u a new client device, unless u has enough already. It
// emits no event: the client appears when it first logs in.
func (g *Generator) addClient(u *simUser) {
	active := 0
	for _, c := range u.clients {
		if !c.retired {
			active++
		}
	}
	if active >= maxActiveClients {
		return
	}
	sw := g.pickSoftware()
	c := &simClient{user: u, sw: sw, version: pick(g, sw.versions), device: pick(g, sw.devices)}
	if sw.legacy {
		c.resource = strings.ToLower(sw.name) + "." + g.newToken("", 3)
	} else {
		c.id = g.newClientID()
	}
	u.clients = append(u.clients, c)
}

func (g *Generator) pickSoftware() *software {
	r := g.rng.IntN(catalogWeight)
	for i := range catalog {
		r -= catalog[i].weight
		if r < 0 {
			return &catalog[i]
		}
	}
	return &catalog[len(catalog)-1]
}

// startNode emits node.started with a new boot id of n.
func (g *Generator) startNode(n *simNode) {
	e := g.emit(events.NodeStarted, n, nil)
	e.Boot = g.newEventID(e.Time)
	g.then(func() {
		endBoot(n)
		n.boot = e.Boot
	})
}

// restartNode stops n, sometimes cleanly with node.stopped, and starts it
// with a new boot. The sessions of the old boot end without events of their
// own, as the projector ends them on the new boot id.
func (g *Generator) restartNode(n *simNode) {
	if g.chance(0.5) {
		g.emit(events.NodeStopped, n, nil).Boot = n.boot
		g.then(func() { endBoot(n) })
	}
	g.startNode(n)
}

// endBoot drops the sessions of n's current boot from the simulated state.
func endBoot(n *simNode) {
	for _, s := range n.sessions {
		s.client.session = nil
	}
	clear(n.sessions)
}

// clientInfo returns the user agent of c as auth and grant events carry it.
func clientInfo(c *simClient) *events.Client {
	return &events.Client{ID: c.id, Software: c.sw.name, Version: c.version, URI: c.sw.uri, Device: c.device}
}

// clientRef returns the client id of c for session events, or nil for a
// legacy client.
func clientRef(c *simClient) *events.Client {
	if c.id == "" {
		return nil
	}
	return &events.Client{ID: c.id}
}

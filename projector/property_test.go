package projector

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
)

// Sizes of the property test. Every history is replayed in
// propertyOrders interleavings and with propertyDuplicates duplicate sets.
const (
	propertySeeds      = 300
	propertyOrders     = 20
	propertyDuplicates = 10
)

var (
	propertyUsers = []string{alice, bob}
	// xmpp-1 and xmpp-2 send node events. xmpp-3 never does, so the
	// heartbeat timeout does not apply to it.
	propertyNodes     = []string{"xmpp-1", "xmpp-2", "xmpp-3"}
	lifecycleNodes    = 2
	propertyClientIDs = []string{"gajim-1", "gajim-2", "conv-1", "dino-1"}
	propertySoftware  = map[string]string{"gajim-1": "Gajim", "gajim-2": "Gajim", "conv-1": "Conversations", "dino-1": "Dino"}
	propertyVersions  = []string{"1.0", "1.1", "2.0"}
	propertyResources = []string{"laptop", "phone", "desktop"}
	propertyGrantApps = []string{"Calendar sync", "Backup", "Webmail"}
	propertyPerms     = []string{"", events.PermissionRestricted, events.PermissionNormal, events.PermissionUnrestricted}
)

// simSession is a session that the history generator has opened and not yet
// ended.
type simSession struct {
	user, node, id string
	clientID       string
	bound          bool
	hibernated     bool
}

// simGrant is a grant that the history generator has issued.
type simGrant struct {
	user, id, clientID string
}

// simFast is a FAST token that the history generator has minted.
type simFast struct {
	user, clientID, fingerprint string
}

// historyGenerator writes a random valid event history with strictly
// increasing times, as a cluster of nodes would publish it.
type historyGenerator struct {
	r        *rand.Rand
	now      time.Time
	count    int
	events   []*events.Event
	up       []bool
	boots    []int
	open     []*simSession
	grants   []*simGrant
	fast     []*simFast
	sessions int
}

func generateHistory(seed uint64) []*events.Event {
	g := &historyGenerator{
		r:     rand.New(rand.NewPCG(seed, seed^0x5eed)),
		now:   epoch,
		up:    make([]bool, len(propertyNodes)),
		boots: make([]int, len(propertyNodes)),
	}
	for i := range propertyNodes {
		g.startNode(i)
	}
	steps := 40 + g.r.IntN(80)
	for range steps {
		g.step()
	}
	return g.events
}

// emit appends an event at a time a little after the previous one.
func (g *historyGenerator) emit(typ events.Type, node, user string, opts ...eventOption) *events.Event {
	g.now = g.now.Add(time.Duration(1+g.r.IntN(90_000)) * time.Millisecond)
	g.count++
	e := &events.Event{ID: fmt.Sprintf("p%05d", g.count), Type: typ, V: events.Version, Time: g.now, Node: node, User: user}
	for _, o := range opts {
		o(e)
	}
	g.events = append(g.events, e)
	return e
}

func (g *historyGenerator) pick(list []string) string { return list[g.r.IntN(len(list))] }

func (g *historyGenerator) chance(percent int) bool { return g.r.IntN(100) < percent }

func (g *historyGenerator) step() {
	switch n := g.r.IntN(100); {
	case n < 30:
		g.login()
	case n < 50:
		g.sessionStep()
	case n < 65:
		g.grantStep()
	case n < 75:
		g.fastStep()
	case n < 80:
		g.emit(events.PasswordChanged, g.upNode(), g.pick(propertyUsers))
	case n < 86:
		g.revokeClient()
	case n < 87:
		g.emit(events.AccountDeleted, g.upNode(), g.pick(propertyUsers))
	default:
		g.nodeStep()
	}
}

// upNode returns a node that is running, starting one when none is.
func (g *historyGenerator) upNode() string {
	var up []int
	for i, ok := range g.up {
		if ok {
			up = append(up, i)
		}
	}
	if len(up) == 0 {
		i := g.r.IntN(lifecycleNodes)
		g.startNode(i)
		return propertyNodes[i]
	}
	return propertyNodes[up[g.r.IntN(len(up))]]
}

func (g *historyGenerator) agent(clientID string) events.Client {
	c := events.Client{ID: clientID, Software: propertySoftware[clientID], Version: g.pick(propertyVersions)}
	if g.chance(50) {
		c.Device = g.pick(propertyResources)
	}
	return c
}

// login opens a session with password, token or FAST authentication, and
// binds it unless the client skips binding.
func (g *historyGenerator) login() {
	user, node := g.pick(propertyUsers), g.upNode()
	g.sessions++
	ss := &simSession{user: user, node: node, id: fmt.Sprintf("s%d", g.sessions)}
	clientID := g.pick(propertyClientIDs)
	resource := g.pick(propertyResources)

	switch n := g.r.IntN(100); {
	case n < 40:
		ss.clientID = clientID
		g.emit(events.AuthPassword, node, user, withClient(g.agent(clientID)), withSession(ss.id, ""))
	case n < 55:
		// A legacy client: no SASL2 client id, tracked by its resource.
		g.emit(events.AuthPassword, node, user, withSession(ss.id, ""))
	case n < 80:
		gr := g.grantOf(user)
		switch {
		case gr.clientID != "":
			ss.clientID = gr.clientID
		case g.chance(50):
			ss.clientID = clientID
		}
		opts := []eventOption{withSession(ss.id, ""), withGrantID(gr.id)}
		if ss.clientID != "" {
			opts = append(opts, withClient(g.agent(ss.clientID)))
		}
		g.emit(events.AuthToken, node, user, opts...)
	default:
		f := g.fastOf(user)
		ss.clientID = f.clientID
		g.emit(events.AuthFast, node, user, withClientID(f.clientID), withSession(ss.id, ""), withFast(f.fingerprint, time.Time{}))
	}

	if ss.clientID != "" && g.chance(15) {
		// A SASL2 client that never binds a resource.
		return
	}
	opts := []eventOption{withSession(ss.id, resource)}
	if ss.clientID != "" && g.chance(50) {
		opts = append(opts, withClientID(ss.clientID))
	}
	g.emit(events.SessionBound, node, user, opts...)
	ss.bound = true
	g.open = append(g.open, ss)
	if ss.clientID != "" && g.chance(20) {
		g.mint(user, ss.clientID)
	}
}

// sessionStep hibernates, resumes or ends an open session.
func (g *historyGenerator) sessionStep() {
	if len(g.open) == 0 {
		g.login()
		return
	}
	i := g.r.IntN(len(g.open))
	ss := g.open[i]
	switch {
	case !ss.hibernated && g.chance(40):
		ss.hibernated = true
		g.emit(events.SessionHibernated, ss.node, ss.user, withSession(ss.id, ""))
	case ss.hibernated && g.chance(60):
		ss.hibernated = false
		g.emit(events.SessionResumed, ss.node, ss.user, withSession(ss.id, ""))
	default:
		g.emit(events.SessionUnbound, ss.node, ss.user, withSession(ss.id, ""), func(e *events.Event) { e.Reason = "closed by client" })
		g.open = slices.Delete(g.open, i, i+1)
	}
}

// grantOf returns a grant of user, issuing one when user has none.
func (g *historyGenerator) grantOf(user string) *simGrant {
	var own []*simGrant
	for _, gr := range g.grants {
		if gr.user == user {
			own = append(own, gr)
		}
	}
	if len(own) == 0 || g.chance(30) {
		return g.issue(user)
	}
	return own[g.r.IntN(len(own))]
}

func (g *historyGenerator) issue(user string) *simGrant {
	gr := &simGrant{user: user, id: fmt.Sprintf("g%d", len(g.grants)+1)}
	if g.chance(50) {
		gr.clientID = g.pick(propertyClientIDs)
	}
	g.grants = append(g.grants, gr)
	meta := events.Grant{ID: gr.id, Name: g.pick(propertyGrantApps), SoftwareVersion: g.pick(propertyVersions), Permission: g.pick(propertyPerms)}
	if g.chance(40) {
		meta.Expires = g.now.Add(time.Duration(g.r.IntN(240)) * time.Minute)
	}
	opts := []eventOption{withGrant(meta)}
	if gr.clientID != "" {
		opts = append(opts, withClientID(gr.clientID))
	}
	g.emit(events.GrantIssued, g.upNode(), user, opts...)
	return gr
}

// grantStep issues, uses, revokes or expires a grant.
func (g *historyGenerator) grantStep() {
	if len(g.grants) == 0 || g.chance(30) {
		g.issue(g.pick(propertyUsers))
		return
	}
	gr := g.grants[g.r.IntN(len(g.grants))]
	var opts []eventOption
	if gr.clientID != "" && g.chance(50) {
		opts = append(opts, withClientID(gr.clientID))
	}
	typ := events.GrantUsed
	switch n := g.r.IntN(100); {
	case n < 60:
		grant := events.Grant{ID: gr.id}
		if g.chance(30) {
			// A use that reports newer metadata of the grant.
			grant.Name, grant.SoftwareVersion = g.pick(propertyGrantApps), g.pick(propertyVersions)
			grant.Permission = g.pick(propertyPerms)
		}
		opts = append(opts, withGrant(grant))
	case n < 85:
		typ = events.GrantRevoked
		opts = append(opts, withGrantID(gr.id))
	default:
		typ = events.GrantExpired
		opts = append(opts, withGrantID(gr.id))
	}
	g.emit(typ, g.upNode(), gr.user, opts...)
}

// fastOf returns a FAST token of user, minting one when user has none.
func (g *historyGenerator) fastOf(user string) *simFast {
	var own []*simFast
	for _, f := range g.fast {
		if f.user == user {
			own = append(own, f)
		}
	}
	if len(own) == 0 {
		return g.mint(user, g.pick(propertyClientIDs))
	}
	return own[g.r.IntN(len(own))]
}

func (g *historyGenerator) mint(user, clientID string) *simFast {
	f := &simFast{user: user, clientID: clientID, fingerprint: fmt.Sprintf("sha256:%04x", len(g.fast)+1)}
	g.fast = append(g.fast, f)
	var expires time.Time
	if g.chance(40) {
		expires = g.now.Add(time.Duration(g.r.IntN(240)) * time.Minute)
	}
	c := events.Client{ID: clientID}
	if g.chance(50) {
		c = g.agent(clientID)
	}
	g.emit(events.FastMinted, g.upNode(), user, withClient(c), withFast(f.fingerprint, expires))
	return f
}

// fastStep mints or revokes a FAST token.
func (g *historyGenerator) fastStep() {
	if len(g.fast) == 0 || g.chance(50) {
		g.mint(g.pick(propertyUsers), g.pick(propertyClientIDs))
		return
	}
	f := g.fast[g.r.IntN(len(g.fast))]
	opts := []eventOption{withFast(f.fingerprint, time.Time{})}
	if g.chance(50) {
		opts = append(opts, withClientID(f.clientID))
	}
	g.emit(events.FastRevoked, g.upNode(), f.user, opts...)
}

// revokeClient appends a client.revoked for the listing id of a client id,
// a resource or a grant, as the query service would.
func (g *historyGenerator) revokeClient() {
	user := g.pick(propertyUsers)
	var target string
	switch n := g.r.IntN(100); {
	case n < 60:
		target = ListingID(user, "c:"+g.pick(propertyClientIDs))
	case n < 80:
		target = ListingID(user, "r:"+g.pick(propertyResources))
	default:
		target = fmt.Sprintf("grant/g%d", 1+g.r.IntN(len(g.grants)+1))
	}
	g.emit(events.ClientRevoked, g.upNode(), user, func(e *events.Event) {
		e.Target, e.Actor, e.Request = target, user, fmt.Sprintf("req-%d", g.count)
	})
}

// nodeStep sends a heartbeat, or restarts or stops a node that sends node
// events. A restart or stop ends the node's open sessions without
// session.unbound, as a crash would.
func (g *historyGenerator) nodeStep() {
	i := g.r.IntN(lifecycleNodes)
	switch n := g.r.IntN(100); {
	case !g.up[i]:
		g.startNode(i)
	case n < 60:
		g.emit(events.NodeHeartbeat, propertyNodes[i], "")
	case n < 85:
		g.dropSessions(propertyNodes[i])
		g.startNode(i)
	default:
		g.dropSessions(propertyNodes[i])
		g.up[i] = false
		g.emit(events.NodeStopped, propertyNodes[i], "")
	}
}

func (g *historyGenerator) startNode(i int) {
	g.up[i] = true
	if i >= lifecycleNodes {
		return
	}
	g.boots[i]++
	g.emit(events.NodeStarted, propertyNodes[i], "", withBoot(fmt.Sprintf("%s-boot-%d", propertyNodes[i], g.boots[i])))
}

func (g *historyGenerator) dropSessions(node string) {
	g.open = slices.DeleteFunc(g.open, func(ss *simSession) bool { return ss.node == node })
}

// chainOf returns the key of the events that must keep their relative
// order: those of one (node, session id). Every other event is its own chain.
func chainOf(e *events.Event, index int) string {
	if e.Session != nil {
		return "session " + e.User + " " + e.Node + "/" + e.Session.ID
	}
	return fmt.Sprintf("event %d", index)
}

// interleave returns a random order of history that keeps the relative
// order of each session's events: it shuffles all positions, then gives the
// positions that a session's events landed on back to those events in their
// original order.
func interleave(r *rand.Rand, history []*events.Event) []*events.Event {
	perm := r.Perm(len(history))
	positions := make(map[string][]int)
	for pos, i := range perm {
		c := chainOf(history[i], i)
		positions[c] = append(positions[c], pos)
	}
	members := make(map[string][]int)
	for i, e := range history {
		c := chainOf(e, i)
		members[c] = append(members[c], i)
	}
	out := make([]*events.Event, len(history))
	for c, ps := range positions {
		for k, pos := range ps {
			out[pos] = history[members[c][k]]
		}
	}
	return out
}

// withDuplicates returns order with copies of random events inserted at
// random positions after their original.
func withDuplicates(r *rand.Rand, order []*events.Event) []*events.Event {
	out := slices.Clone(order)
	copies := 1 + r.IntN(len(order)/2+1)
	for range copies {
		i := r.IntN(len(out))
		dup := *out[i]
		j := i + 1 + r.IntN(len(out)-i)
		out = slices.Insert(out, j, &dup)
	}
	return out
}

// propertyView is everything the property compares between two orders.
type propertyView struct {
	Clients  map[string][]ClientView
	Timeout  map[string][]ClientView
	Software map[string][]Target
}

// viewsOf applies order to a new State and returns its views at now, with
// and without a heartbeat timeout.
func viewsOf(t *testing.T, order []*events.Event, now time.Time) propertyView {
	t.Helper()
	return viewsOfState(t, NewState(), order, now)
}

// viewsOfState is viewsOf with the State to apply order to.
func viewsOfState(t *testing.T, s *State, order []*events.Event, now time.Time) propertyView {
	t.Helper()
	for _, e := range order {
		if err := s.Apply(e); err != nil {
			t.Fatalf("Apply(%s %s) returned %v", e.Type, e.ID, err)
		}
	}
	v := propertyView{Clients: map[string][]ClientView{}, Timeout: map[string][]ClientView{}, Software: map[string][]Target{}}
	for _, user := range propertyUsers {
		v.Clients[user] = s.Clients(user, ViewOptions{Now: now})
		v.Timeout[user] = s.Clients(user, ViewOptions{Now: now, HeartbeatTimeout: 5 * time.Minute})
		v.Software[user] = s.Resolve(user, "software/Gajim", ViewOptions{Now: now})
	}
	return v
}

// difference returns the first part of got that differs from want: the
// first differing client when both lists have the same length, else both
// lists.
func difference(got, want propertyView) string {
	for _, user := range propertyUsers {
		parts := []struct {
			name      string
			got, want any
		}{
			{"clients", got.Clients[user], want.Clients[user]},
			{"clients with heartbeat timeout", got.Timeout[user], want.Timeout[user]},
			{"software/Gajim targets", got.Software[user], want.Software[user]},
		}
		for _, p := range parts {
			if reflect.DeepEqual(p.got, p.want) {
				continue
			}
			g, w := reflect.ValueOf(p.got), reflect.ValueOf(p.want)
			if g.Len() == w.Len() {
				for i := range g.Len() {
					if !reflect.DeepEqual(g.Index(i).Interface(), w.Index(i).Interface()) {
						return fmt.Sprintf("%s of %s, item %d\ngot:  %s\nwant: %s", p.name, user, i, toJSON(g.Index(i).Interface()), toJSON(w.Index(i).Interface()))
					}
				}
			}
			return fmt.Sprintf("%s of %s\ngot:  %s\nwant: %s", p.name, user, toJSON(p.got), toJSON(p.want))
		}
	}
	return "no difference found"
}

// describe lists events one per line for a failure message.
func describe(order []*events.Event) string {
	var b strings.Builder
	for _, e := range order {
		fmt.Fprintf(&b, "  %s %s %s %s %s", e.ID, e.Time.Format("15:04:05.000"), e.Node, e.User, e.Type)
		if e.Session != nil {
			fmt.Fprintf(&b, " session=%s", e.Session.ID)
		}
		if e.Grant != nil {
			fmt.Fprintf(&b, " grant=%s", e.Grant.ID)
		}
		if e.ClientID() != "" {
			fmt.Fprintf(&b, " client=%s", e.ClientID())
		}
		b.WriteString("\n")
	}
	return b.String()
}

// propertyCoverage counts what the generated histories produced, so that the
// property test fails when its histories stop reaching the interesting
// states.
type propertyCoverage struct {
	listed, connected, ended, legacy, grantOnly, access int
	auth                                                map[string]int
}

func (c *propertyCoverage) add(v propertyView) {
	for _, user := range propertyUsers {
		afterTimeout := make(map[string]bool)
		for _, cv := range v.Timeout[user] {
			afterTimeout[cv.ID] = cv.Connected
		}
		for _, cv := range v.Clients[user] {
			c.listed++
			if cv.Connected {
				c.connected++
				if !afterTimeout[cv.ID] {
					c.ended++
				}
			}
			if cv.Legacy {
				c.legacy++
			}
			if strings.HasPrefix(cv.ID, "grant/") {
				c.grantOnly++
			}
			if cv.Type == TypeAccess {
				c.access++
			}
			for _, m := range cv.Auth {
				c.auth[m]++
			}
		}
	}
}

func TestPropertyOrderAndDuplicates(t *testing.T) {
	coverage := propertyCoverage{auth: map[string]int{}}
	for seed := uint64(1); seed <= propertySeeds; seed++ {
		history := generateHistory(seed)
		for _, e := range history {
			if err := events.Validate(e); err != nil {
				t.Fatalf("seed %d: generated event %s is invalid: %v", seed, e.ID, err)
			}
		}
		now := history[len(history)-1].Time.Add(time.Minute)
		want := viewsOf(t, history, now)
		coverage.add(want)

		r := rand.New(rand.NewPCG(seed, 0x0de7))
		for k := range propertyOrders {
			order := interleave(r, history)
			if got := viewsOf(t, order, now); !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d, order %d: views differ from time order: %s\norder:\n%s",
					seed, k, difference(got, want), describe(order))
			}
			if k >= propertyDuplicates {
				continue
			}
			dups := withDuplicates(r, order)
			if got := viewsOf(t, dups, now); !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d, order %d with duplicates: views differ from time order: %s\norder:\n%s",
					seed, k, difference(got, want), describe(dups))
			}
		}
	}

	t.Logf("coverage over %d histories: %+v", propertySeeds, coverage)
	counts := map[string]int{
		"listed clients":            coverage.listed,
		"connected clients":         coverage.connected,
		"sessions ended by timeout": coverage.ended,
		"legacy clients":            coverage.legacy,
		"grant-only clients":        coverage.grantOnly,
		"access-only clients":       coverage.access,
		"password auth":             coverage.auth[AuthPassword],
		"grant auth":                coverage.auth[AuthGrant],
		"FAST auth":                 coverage.auth[AuthFast],
	}
	for state, n := range counts {
		if n == 0 {
			t.Errorf("no generated history produced %s, so the property does not cover them", state)
		}
	}
}

// TestPropertyInterleaveKeepsSessionOrder checks the order generator itself:
// each session's events keep their order, and no event is lost or repeated.
func TestPropertyInterleaveKeepsSessionOrder(t *testing.T) {
	history := generateHistory(7)
	r := rand.New(rand.NewPCG(7, 7))
	moved := false
	for range 50 {
		order := interleave(r, history)
		if len(order) != len(history) {
			t.Fatalf("interleave returned %d events, want %d", len(order), len(history))
		}
		seen := make(map[string]bool)
		last := make(map[string]time.Time)
		for i, e := range order {
			if seen[e.ID] {
				t.Fatalf("event %s appears twice", e.ID)
			}
			seen[e.ID] = true
			if e != history[i] {
				moved = true
			}
			if e.Session == nil {
				continue
			}
			c := chainOf(e, 0)
			if e.Time.Before(last[c]) {
				t.Fatalf("event %s of %s comes after a later event of the same session", e.ID, c)
			}
			last[c] = e.Time
		}
	}
	if !moved {
		t.Errorf("interleave never changed the order of %d events", len(history))
	}
}

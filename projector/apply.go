package projector

import (
	"fmt"
	"strings"
	"unique"

	"github.com/clientele-xmpp/clientele/events"
)

// Apply folds one validated event into s. Applying an event a second time
// changes nothing. It returns an error wrapping events.ErrUnknownType for a
// type it does not fold, and changes nothing then.
func (s *State) Apply(e *events.Event) error {
	if !e.Type.Known() {
		return fmt.Errorf("%w: %q", events.ErrUnknownType, e.Type)
	}
	s.touchNode(e)
	if e.Type.IsNode() {
		s.applyNode(e)
		return nil
	}
	if e.Type == events.AccountForgotten {
		s.Forget(e.UserKey)
		return nil
	}
	a := s.account(e.User)
	t := stampOf(e.Time)
	a.noteClient(e, t)
	switch e.Type {
	case events.AuthPassword, events.AuthToken, events.AuthFast:
		a.applyAuth(s, e, t)
	case events.SessionBound, events.SessionHibernated, events.SessionResumed, events.SessionUnbound:
		a.applySession(s, e, t)
	case events.GrantIssued, events.GrantUsed, events.GrantRevoked, events.GrantExpired:
		a.applyGrant(e, t)
	case events.FastMinted, events.FastRevoked:
		a.applyFast(e, t)
	case events.PasswordChanged:
		x := a.rare()
		x.passwordChanged = x.passwordChanged.max(t)
	case events.ClientRevoked:
		a.revoke(e.Target, t)
	case events.AccountDeleted:
		x := a.rare()
		x.deleted = x.deleted.max(t)
	}
	return nil
}

// noteClient records the user agent of an event that names a client outside
// a session, such as a grant issued to it or a FAST token minted for it.
// These events are not a use of the client, so they set no last-seen time.
func (a *Account) noteClient(e *events.Event, t stamp) {
	if e.Client == nil || e.Client.ID == "" || e.Session != nil {
		return
	}
	var buf [64]byte
	r := &a.clients[a.clientIndex(appendClientKey(buf[:0], e.Client.ID))]
	r.firstSeen = minNonZero(r.firstSeen, t)
	r.agent, r.agentAt = newerAgent(userAgentOf(e.Client), t, r.agent, r.agentAt)
}

// account returns the account of user, creating it.
//
// The State keeps copies of the strings it stores, such as the user here,
// because the strings of a decoded event share memory: those of
// events.Decode one allocation, those of events.Decoded the message.
// Keeping one of them as it is would keep all of it, and the Runner reuses
// the events it applies.
func (s *State) account(user string) *Account {
	a := s.Users[user]
	if a == nil {
		a = &Account{}
		s.Users[strings.Clone(user)] = a
	}
	return a
}

func (s *State) touchNode(e *events.Event) {
	n := s.Nodes[e.Node]
	if n == nil {
		n = &Node{}
		s.Nodes[s.nodeName(e.Node)] = n
	}
	if e.Time.After(n.LastSeen) {
		n.LastSeen = e.Time
	}
}

func (s *State) applyNode(e *events.Event) {
	n := s.Nodes[e.Node]
	n.Lifecycle = true
	switch e.Type {
	case events.NodeStarted:
		if e.Time.After(n.Started) {
			n.Started, n.Boot = e.Time, strings.Clone(e.Boot)
		}
	case events.NodeStopped:
		if e.Time.After(n.Stopped) {
			n.Stopped = e.Time
		}
	}
}

// nodeName returns the interned copy of node id.
func (s *State) nodeName(node string) string {
	if name, ok := s.nodeNames[node]; ok {
		return name
	}
	if s.nodeNames == nil {
		s.nodeNames = make(map[string]string)
	}
	name := strings.Clone(node)
	s.nodeNames[name] = name
	return name
}

// session returns the session of e and its index in a.Sessions, creating
// it in the authenticated state.
//
// An event of a session that ended and was dropped repeats an event
// applied before, because a session's own events keep their order. Its
// changes go to s.discard, whose index is noRecord.
func (a *Account) session(s *State, e *events.Event, t stamp) (*Session, int) {
	i := a.findSession(e.Node, e.Session.ID)
	if i == noRecord && a.sessionEnded(e.Node, e.Session.ID) {
		s.discard = Session{State: StateEnded, client: noRecord, grant: noRecord}
		return &s.discard, noRecord
	}
	if i == noRecord {
		i = a.addSession(Session{
			Node: s.nodeName(e.Node), ID: strings.Clone(e.Session.ID), State: StateAuthenticated,
			stateAt: t, start: t, last: t, client: noRecord, grant: noRecord,
		})
	}
	ss := &a.Sessions[i]
	ss.start = ss.start.min(t)
	ss.last = ss.last.max(t)
	a.keySession(ss, e)
	if e.Client != nil {
		// An event that names the client without its software keeps the
		// user agent seen before.
		ss.agent, ss.agentAt = newerAgent(userAgentOf(e.Client), t, ss.agent, ss.agentAt)
	}
	return ss, i
}

// keySession sets the client key of ss from e: the first client id it
// names, or while there is none, the first resource.
func (a *Account) keySession(ss *Session, e *events.Event) {
	var buf [64]byte
	if id := e.ClientID(); id != "" && !a.hasClientID(ss) {
		ss.client = int32(a.clientIndex(appendClientKey(buf[:0], id)))
		return
	}
	if res := e.Session.Resource; res != "" && ss.client == noRecord {
		ss.client = int32(a.clientIndex(appendResourceKey(buf[:0], res)))
	}
}

// hasClientID reports whether ss is keyed by a client id rather than a
// resource or nothing.
func (a *Account) hasClientID(ss *Session) bool {
	return ss.client != noRecord && !isResourceKey(a.clients[ss.client].key)
}

func isResourceKey(packed string) bool {
	return len(packed) >= len(prefixResource) && packed[:len(prefixResource)] == prefixResource
}

// userAgentOf returns the user agent that c describes.
func userAgentOf(c *events.Client) UserAgent {
	return UserAgent{Software: c.Software, Version: c.Version, URI: c.URI, Device: c.Device}
}

// newerAgent returns ua at time t when it should replace the agent cur at
// curAt by the rule of agentAt.newer, and cur with curAt otherwise.
func newerAgent(ua UserAgent, t stamp, cur agentHandle, curAt stamp) (agentHandle, stamp) {
	if ua == (UserAgent{}) {
		return cur, curAt
	}
	old := agentOf(cur)
	if t != curAt && !t.after(curAt) || t == curAt && !old.less(ua) {
		return cur, curAt
	}
	if ua == old {
		return cur, t
	}
	return unique.Make(ua), t
}

func (a *Account) applyAuth(s *State, e *events.Event, t stamp) {
	ss, _ := a.session(s, e, t)
	switch e.Type {
	case events.AuthPassword:
		ss.password = ss.password.max(t)
	case events.AuthToken:
		gi := a.grant(e.Grant.ID, t)
		ss.grant = int32(gi)
		g := &a.grants[gi]
		g.lastUsed = g.lastUsed.max(t)
		a.linkGrant(gi, e.ClientID())
	case events.AuthFast:
		if e.Fast != nil && e.Fast.Fingerprint != "" {
			fi := a.fastToken(e.Fast.Fingerprint, t)
			a.fast[fi].client = a.clientOf(e.ClientID())
		}
	}
}

// clientOf returns the index of the client record of client id, creating
// it, or noRecord for no id.
func (a *Account) clientOf(id string) int32 {
	if id == "" {
		return noRecord
	}
	var buf [64]byte
	return int32(a.clientIndex(appendClientKey(buf[:0], id)))
}

// applySession moves a session to the state of e when e is not older than
// the state's own event. StateEnded is final: a session id is never reused.
func (a *Account) applySession(s *State, e *events.Event, t stamp) {
	ss, i := a.session(s, e, t)
	if ss.State == StateEnded {
		return
	}
	var next SessionState
	switch e.Type {
	case events.SessionBound, events.SessionResumed:
		next = StateBound
	case events.SessionHibernated:
		next = StateHibernated
	case events.SessionUnbound:
		ss.State, ss.stateAt = StateEnded, t
		if !s.keepEnded {
			a.retire(i)
		}
		return
	}
	if !t.before(ss.stateAt) || ss.State == StateAuthenticated {
		ss.State, ss.stateAt = next, t
	}
}

// grant returns the index of the grant with id, creating it.
func (a *Account) grant(id string, t stamp) int {
	i := a.findGrant(id)
	if i == noRecord {
		i = a.addGrant(grantRecord{id: strings.Clone(id), firstSeen: t, client: noRecord})
	}
	g := &a.grants[i]
	g.firstSeen = g.firstSeen.min(t)
	return i
}

// linkGrant links grant gi to client id when it is the smallest id linked
// so far, which keeps the link independent of arrival order.
func (a *Account) linkGrant(gi int, id string) {
	if id == "" {
		return
	}
	g := &a.grants[gi]
	if g.client == noRecord || id < clientIDOf(a.clients[g.client].key) {
		g.client = a.clientOf(id)
	}
}

// clientIDOf returns the client id of a packed client key, or "" for a
// resource key.
func clientIDOf(packed string) string {
	k := unpackKey(packed)
	if len(k) >= len(prefixClient) && k[:len(prefixClient)] == prefixClient {
		return k[len(prefixClient):]
	}
	return ""
}

func (a *Account) applyGrant(e *events.Event, t stamp) {
	gi := a.grant(e.Grant.ID, t)
	a.linkGrant(gi, e.ClientID())
	g := &a.grants[gi]
	if e.Type == events.GrantIssued || e.Type == events.GrantUsed {
		if hasMeta(e.Grant) && !t.before(g.metaAt) {
			g.meta, g.metaAt = internMeta(e.Grant, g.meta), t
		}
		// The expiry comes from the newest event that states one, so that
		// metadata without an expiry does not make a grant last forever.
		if exp := stampOf(e.Grant.Expires); exp != 0 && !t.before(g.expiresAt) {
			if t != g.expiresAt || exp.after(g.expires) {
				g.expires, g.expiresAt = exp, t
			}
		}
	}
	switch e.Type {
	case events.GrantIssued:
		g.issued = minNonZero(g.issued, t)
	case events.GrantUsed:
		g.lastUsed = g.lastUsed.max(t)
	case events.GrantRevoked:
		g.revoked = true
	case events.GrantExpired:
		g.expired = true
	}
}

func hasMeta(g *events.Grant) bool {
	return g.Name != "" || g.URI != "" || g.SoftwareID != "" || g.SoftwareVersion != "" || g.Permission != "" || !g.Expires.IsZero()
}

// internMeta returns the handle of the metadata of g, reusing cur when it
// holds the same.
func internMeta(g *events.Grant, cur grantMetaHandle) grantMetaHandle {
	m := grantMeta{Name: g.Name, URI: g.URI, SoftwareID: g.SoftwareID, SoftwareVersion: g.SoftwareVersion, Permission: g.Permission}
	if cur != (grantMetaHandle{}) && cur.Value() == m {
		return cur
	}
	return unique.Make(m)
}

// fastToken returns the index of the FAST token with fingerprint fp,
// creating it.
func (a *Account) fastToken(fp string, t stamp) int {
	var buf [64]byte
	packed := appendFingerprint(buf[:0], fp)
	i := a.findFast(packed)
	if i == noRecord {
		i = a.addFast(fastRecord{fingerprint: string(packed), firstSeen: t, client: noRecord})
	}
	f := &a.fast[i]
	f.firstSeen = f.firstSeen.min(t)
	return i
}

func (a *Account) applyFast(e *events.Event, t stamp) {
	fi := a.fastToken(e.Fast.Fingerprint, t)
	if id := e.ClientID(); id != "" {
		a.fast[fi].client = a.clientOf(id)
	}
	f := &a.fast[fi]
	switch e.Type {
	case events.FastMinted:
		f.minted = minNonZero(f.minted, t)
		if exp := stampOf(e.Fast.Expires); exp.after(f.expires) {
			f.expires = exp
		}
	case events.FastRevoked:
		f.revoked = true
	}
}

// revoke records a client.revoked event for listing id at t.
func (a *Account) revoke(id string, t stamp) {
	x := a.rare()
	for i := range x.revoked {
		if x.revoked[i].id == id {
			x.revoked[i].at = x.revoked[i].at.max(t)
			return
		}
	}
	x.revoked = append(x.revoked, revocation{id: strings.Clone(id), at: t})
}

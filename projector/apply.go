package projector

import (
	"fmt"
	"time"

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
	a := s.account(e.User)
	a.noteClient(e)
	switch e.Type {
	case events.AuthPassword, events.AuthToken, events.AuthFast:
		a.applyAuth(e)
	case events.SessionBound, events.SessionHibernated, events.SessionResumed, events.SessionUnbound:
		a.applySession(e)
	case events.GrantIssued, events.GrantUsed, events.GrantRevoked, events.GrantExpired:
		a.applyGrant(e)
	case events.FastMinted, events.FastRevoked:
		a.applyFast(e)
	case events.PasswordChanged:
		a.PasswordChanged = maxTime(a.PasswordChanged, e.Time)
	case events.ClientRevoked:
		a.Revoked[e.Target] = maxTime(a.Revoked[e.Target], e.Time)
	case events.AccountDeleted:
		a.Deleted = maxTime(a.Deleted, e.Time)
	}
	return nil
}

// noteClient records the user agent of an event that names a client outside
// a session, such as a grant issued to it or a FAST token minted for it.
func (a *Account) noteClient(e *events.Event) {
	if e.Client == nil || e.Client.ID == "" || e.Session != nil {
		return
	}
	k := "c:" + e.Client.ID
	r := a.Clients[k]
	if r == nil {
		// These events (grant issued, token minted, revokes) are not a use
		// of the client, so they leave LastSeen alone.
		r = &ClientRecord{FirstSeen: e.Time}
		a.Clients[k] = r
	}
	r.FirstSeen = minTime(r.FirstSeen, e.Time)
	if ag := agentOf(e); ag.UserAgent != (UserAgent{}) && ag.newer(r.Agent) {
		r.Agent = ag
	}
}

func (s *State) account(user string) *Account {
	a := s.Users[user]
	if a == nil {
		a = newAccount()
		s.Users[user] = a
	}
	return a
}

func (s *State) touchNode(e *events.Event) {
	n := s.Nodes[e.Node]
	if n == nil {
		n = &Node{}
		s.Nodes[e.Node] = n
	}
	n.LastSeen = maxTime(n.LastSeen, e.Time)
}

func (s *State) applyNode(e *events.Event) {
	n := s.Nodes[e.Node]
	n.Lifecycle = true
	switch e.Type {
	case events.NodeStarted:
		if e.Time.After(n.Started) {
			n.Started, n.Boot = e.Time, e.Boot
		}
	case events.NodeStopped:
		n.Stopped = maxTime(n.Stopped, e.Time)
	}
}

// session returns the session of e, creating it in the authenticated state.
func (a *Account) session(e *events.Event) *Session {
	k := e.Node + "/" + e.Session.ID
	ss := a.Sessions[k]
	if ss == nil {
		ss = &Session{Node: e.Node, ID: e.Session.ID, State: StateAuthenticated, StateAt: e.Time, Start: e.Time, Last: e.Time}
		a.Sessions[k] = ss
	}
	ss.Start = minTime(ss.Start, e.Time)
	ss.Last = maxTime(ss.Last, e.Time)
	if id := e.ClientID(); id != "" && ss.ClientID == "" {
		ss.ClientID = id
	}
	if e.Session.Resource != "" && ss.Resource == "" {
		ss.Resource = e.Session.Resource
	}
	if e.Client != nil {
		// An event that names the client without its software keeps the
		// user agent seen before.
		ag := agentOf(e)
		if ag.UserAgent != (UserAgent{}) && ag.newer(ss.Agent) {
			ss.Agent = ag
		}
	}
	return ss
}

func agentOf(e *events.Event) Agent {
	c := e.Client
	return Agent{UserAgent: UserAgent{Software: c.Software, Version: c.Version, URI: c.URI, Device: c.Device}, At: e.Time}
}

func (a *Account) applyAuth(e *events.Event) {
	ss := a.session(e)
	switch e.Type {
	case events.AuthPassword:
		ss.Password = maxTime(ss.Password, e.Time)
	case events.AuthToken:
		ss.GrantID = e.Grant.ID
		g := a.grant(e.Grant.ID, e.Time)
		g.LastUsed = maxTime(g.LastUsed, e.Time)
		if id := e.ClientID(); id != "" && (g.ClientID == "" || id < g.ClientID) {
			g.ClientID = id
		}
	case events.AuthFast:
		if e.Fast != nil && e.Fast.Fingerprint != "" {
			f := a.fast(e.Fast.Fingerprint, e.Time)
			f.ClientID = e.ClientID()
		}
	}
}

// applySession moves a session to the state of e when e is not older than
// the state's own event. StateEnded is final: a session id is never reused.
func (a *Account) applySession(e *events.Event) {
	ss := a.session(e)
	if ss.State == StateEnded {
		return
	}
	var next string
	switch e.Type {
	case events.SessionBound, events.SessionResumed:
		next = StateBound
	case events.SessionHibernated:
		next = StateHibernated
	case events.SessionUnbound:
		ss.State, ss.StateAt = StateEnded, e.Time
		return
	}
	if !e.Time.Before(ss.StateAt) || ss.State == StateAuthenticated {
		ss.State, ss.StateAt = next, e.Time
	}
}

func (a *Account) grant(id string, t time.Time) *GrantRecord {
	g := a.Grants[id]
	if g == nil {
		g = &GrantRecord{ID: id, FirstSeen: t}
		a.Grants[id] = g
	}
	g.FirstSeen = minTime(g.FirstSeen, t)
	return g
}

func (a *Account) applyGrant(e *events.Event) {
	g := a.grant(e.Grant.ID, e.Time)
	if id := e.ClientID(); id != "" && (g.ClientID == "" || id < g.ClientID) {
		g.ClientID = id
	}
	if e.Type == events.GrantIssued || e.Type == events.GrantUsed {
		if meta := *e.Grant; hasMeta(meta) && !e.Time.Before(g.MetaAt) {
			g.Meta, g.MetaAt = meta, e.Time
		}
		// The expiry comes from the newest event that states one, so that
		// metadata without an expiry does not make a grant last forever.
		if exp := e.Grant.Expires; !exp.IsZero() && !e.Time.Before(g.ExpiresAt) {
			if !e.Time.Equal(g.ExpiresAt) || exp.After(g.Expires) {
				g.Expires, g.ExpiresAt = exp, e.Time
			}
		}
	}
	switch e.Type {
	case events.GrantIssued:
		g.Issued = minNonZero(g.Issued, e.Time)
	case events.GrantUsed:
		g.LastUsed = maxTime(g.LastUsed, e.Time)
	case events.GrantRevoked:
		g.Revoked = minNonZero(g.Revoked, e.Time)
	case events.GrantExpired:
		g.Expired = minNonZero(g.Expired, e.Time)
	}
}

func hasMeta(g events.Grant) bool {
	return g.Name != "" || g.URI != "" || g.SoftwareID != "" || g.SoftwareVersion != "" || g.Permission != "" || !g.Expires.IsZero()
}

func (a *Account) fast(fingerprint string, t time.Time) *FastRecord {
	f := a.Fast[fingerprint]
	if f == nil {
		f = &FastRecord{FirstSeen: t}
		a.Fast[fingerprint] = f
	}
	f.FirstSeen = minTime(f.FirstSeen, t)
	return f
}

func (a *Account) applyFast(e *events.Event) {
	f := a.fast(e.Fast.Fingerprint, e.Time)
	if id := e.ClientID(); id != "" {
		f.ClientID = id
	}
	switch e.Type {
	case events.FastMinted:
		f.Minted = minNonZero(f.Minted, e.Time)
		if e.Fast.Expires.After(f.Expires) {
			f.Expires = e.Fast.Expires
		}
	case events.FastRevoked:
		f.Revoked = minNonZero(f.Revoked, e.Time)
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// minNonZero returns the earlier of a and b, treating zero as unset.
func minNonZero(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

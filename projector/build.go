package projector

import (
	"crypto/sha256"
	"encoding/base32"
	"slices"
	"strings"
	"time"

	"github.com/clientele-xmpp/clientele/events"
)

// ViewOptions sets how a view is computed from the folded state.
type ViewOptions struct {
	// Now is the time at which access is judged: expiry and heartbeat
	// timeouts compare against it.
	Now time.Time
	// HeartbeatTimeout ends the sessions of a node whose newest event is older
	// than this; 0 disables the timeout.
	HeartbeatTimeout time.Duration
}

// group gathers everything that belongs to one client of an account.
type group struct {
	// key is the client key in its unpacked form.
	key      string
	record   *clientRecord
	sessions []*Session
	// retired sums up the group's ended sessions that were dropped.
	retired []*retiredSessions
	grants  []*grantRecord
	fast    []*fastRecord
}

// groups returns the clients of a: one group for every client record and
// for every grant that no event linked to a client id, with the sessions,
// grants and FAST tokens that belong to it.
func (a *Account) groups() []*group {
	var gs []*group
	byClient := make([]*group, len(a.clients))
	byGrant := make([]*group, len(a.grants))
	for i := range a.clients {
		byClient[i] = &group{key: unpackKey(a.clients[i].key), record: &a.clients[i]}
		gs = append(gs, byClient[i])
	}
	grantGroup := func(gi int32) *group {
		gr := &a.grants[gi]
		if gr.client != noRecord {
			return byClient[gr.client]
		}
		if byGrant[gi] == nil {
			byGrant[gi] = &group{key: prefixGrant + gr.id}
			gs = append(gs, byGrant[gi])
		}
		return byGrant[gi]
	}
	for i := range a.grants {
		g := grantGroup(int32(i))
		g.grants = append(g.grants, &a.grants[i])
	}
	for i := range a.Sessions {
		ss := &a.Sessions[i]
		// A session without a client id that logged in with a grant's token
		// belongs to that grant's client, so that revoking the grant's
		// listing id also ends the session.
		switch {
		case ss.grant != noRecord && !a.hasClientID(ss):
			g := grantGroup(ss.grant)
			g.sessions = append(g.sessions, ss)
		case ss.client != noRecord:
			g := byClient[ss.client]
			g.sessions = append(g.sessions, ss)
		}
	}
	for i := range a.fast {
		if f := &a.fast[i]; f.client != noRecord {
			g := byClient[f.client]
			g.fast = append(g.fast, f)
		}
	}
	if a.extra != nil {
		for i := range a.extra.retired {
			r := &a.extra.retired[i]
			var g *group
			if r.client != noRecord {
				g = byClient[r.client]
			} else {
				g = grantGroup(r.grant)
			}
			g.retired = append(g.retired, r)
		}
	}
	return gs
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// ListingID returns the opaque id that users see for the client with key k
// of user. A hash of the account and the key keeps client ids and resources
// out of listings and makes ids of one account useless on another.
func ListingID(user, k string) string {
	if gid, ok := strings.CutPrefix(k, prefixGrant); ok {
		return "grant/" + gid
	}
	sum := sha256.Sum256([]byte(user + "\x00" + k))
	return "client/" + strings.ToLower(idEncoding.EncodeToString(sum[:10]))
}

// Clients returns the listed clients of user at opt.Now, ordered by first
// seen time and then id. It returns an empty list for an unknown user.
func (s *State) Clients(user string, opt ViewOptions) []ClientView {
	a := s.Users[user]
	if a == nil {
		return []ClientView{}
	}
	out := []ClientView{}
	for _, g := range a.groups() {
		if v, ok := s.view(user, a, g, opt); ok {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(x, y ClientView) int {
		if c := x.FirstSeen.Compare(y.FirstSeen); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return out
}

// agentAt is a user agent with the time of the event that reported it.
type agentAt struct {
	ua UserAgent
	at stamp
}

// newer reports whether a should replace b: it names some software and is
// later, or as late and greater by content, which keeps the choice
// independent of arrival order. An empty agent, from an event that carries
// only a client id or a grant without software metadata, never replaces one.
func (a agentAt) newer(b agentAt) bool {
	if a.ua == (UserAgent{}) {
		return false
	}
	if a.at != b.at {
		return a.at.after(b.at)
	}
	return b.ua.less(a.ua)
}

// view computes the listing of one client group, and reports false when the
// client has neither access nor a live session.
func (s *State) view(user string, a *Account, g *group, opt ViewOptions) (ClientView, bool) {
	id := ListingID(user, g.key)
	revoked := a.revokedAt(id)
	now := stampOf(opt.Now)
	v := ClientView{ID: id, Type: TypeAccess, Legacy: strings.HasPrefix(g.key, prefixResource), Auth: make([]string, 0, 3)}
	perm := ""
	var ua, uaGrant agentAt
	var first, last, password stamp

	if r := g.record; r != nil {
		first = r.firstSeen
		ua = agentAt{agentOf(r.agent), r.agentAt}
	}
	for _, ss := range g.sessions {
		v.Type = TypeSession
		first, last = minNonZero(first, ss.start), last.max(ss.last)
		password = password.max(ss.password)
		if sa := (agentAt{agentOf(ss.agent), ss.agentAt}); sa.newer(ua) {
			ua = sa
		}
		if s.sessionLive(a, ss, revoked, opt) {
			v.Connected = true
			perm = maxPermission(perm, a.sessionPermission(ss))
		}
	}
	for _, r := range g.retired {
		v.Type = TypeSession
		first, last = minNonZero(first, r.start), last.max(r.last)
		password = password.max(r.password)
		if ra := (agentAt{agentOf(r.agent), r.agentAt}); ra.newer(ua) {
			ua = ra
		}
	}
	grantLive := false
	for _, gr := range g.grants {
		first = minNonZero(first, gr.firstSeen)
		last = last.max(gr.lastUsed)
		if ga := grantAgent(gr); ga.newer(uaGrant) {
			uaGrant = ga
		}
		if a.grantLive(gr, revoked, now) {
			grantLive = true
			perm = maxPermission(perm, permissionOf(gr))
		}
	}
	fastLive := false
	for _, f := range g.fast {
		first = minNonZero(first, f.firstSeen)
		if a.accessLive(f.start(), revoked) && !f.revoked && (f.expires == 0 || f.expires.after(now)) {
			fastLive = true
		}
	}

	if password != 0 && password.after(a.passwordChanged()) && password.after(a.deleted()) {
		v.Auth = append(v.Auth, AuthPassword)
		perm = events.PermissionUnrestricted
	}
	if grantLive {
		v.Auth = append(v.Auth, AuthGrant)
	}
	if fastLive {
		v.Auth = append(v.Auth, AuthFast)
		perm = events.PermissionUnrestricted
	}
	if len(v.Auth) == 0 && !v.Connected {
		return ClientView{}, false
	}
	if perm == "" {
		perm = events.PermissionUnrestricted
	}
	v.Permission = perm
	if ua.ua == (UserAgent{}) {
		ua = uaGrant
	}
	v.UserAgent = ua.ua
	v.FirstSeen = first.time()
	if last == 0 || last.before(first) {
		last = first
	}
	v.LastSeen = last.time()
	return v, true
}

// accessLive reports whether access that began at start survives the
// account's password change, deletion and the client's revocation.
func (a *Account) accessLive(start, revoked stamp) bool {
	return start.after(a.passwordChanged()) && start.after(a.deleted()) && start.after(revoked)
}

func (a *Account) grantLive(g *grantRecord, revoked, now stamp) bool {
	if g.revoked || g.expired {
		return false
	}
	if g.expires != 0 && !g.expires.after(now) {
		return false
	}
	return a.accessLive(g.start(), revoked)
}

// sessionLive reports whether ss is bound or hibernated at opt.Now and was
// not ended by its node's restart, stop or silence, a revoke of its client,
// or the account's deletion.
func (s *State) sessionLive(a *Account, ss *Session, revoked stamp, opt ViewOptions) bool {
	if ss.State != StateBound && ss.State != StateHibernated {
		return false
	}
	if !ss.start.after(revoked) || !ss.start.after(a.deleted()) {
		return false
	}
	n := s.Nodes[ss.Node]
	if n == nil {
		return true
	}
	if ss.start.before(stampOf(n.Started)) || !ss.start.after(stampOf(n.Stopped)) {
		return false
	}
	if n.Lifecycle && opt.HeartbeatTimeout > 0 && opt.Now.Sub(n.LastSeen) > opt.HeartbeatTimeout {
		return false
	}
	return true
}

// sessionPermission returns the permission of a session: that of the grant
// it logged in with, else unrestricted.
func (a *Account) sessionPermission(ss *Session) string {
	if ss.grant != noRecord {
		return permissionOf(&a.grants[ss.grant])
	}
	return events.PermissionUnrestricted
}

func permissionOf(g *grantRecord) string {
	if p := metaOf(g.meta).Permission; p != "" {
		return p
	}
	return events.PermissionUnrestricted
}

var permissionRank = map[string]int{
	events.PermissionRestricted:   1,
	events.PermissionNormal:       2,
	events.PermissionUnrestricted: 3,
}

func maxPermission(a, b string) string {
	if permissionRank[b] > permissionRank[a] {
		return b
	}
	return a
}

func grantAgent(g *grantRecord) agentAt {
	m := metaOf(g.meta)
	return agentAt{UserAgent{Software: m.Name, Version: m.SoftwareVersion, URI: m.URI}, g.metaAt}
}

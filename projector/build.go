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
	key      string
	record   *ClientRecord
	sessions []*Session
	grants   []*GrantRecord
	fast     []*FastRecord
	fastKeys []string
}

func (a *Account) groups() map[string]*group {
	gs := make(map[string]*group)
	get := func(k string) *group {
		g := gs[k]
		if g == nil {
			g = &group{key: k}
			gs[k] = g
		}
		return g
	}
	for k, r := range a.Clients {
		get(k).record = r
	}
	for _, ss := range a.Sessions {
		if k := a.sessionKey(ss); k != "" {
			g := get(k)
			g.sessions = append(g.sessions, ss)
		}
	}
	for _, gr := range a.Grants {
		g := get(gr.key())
		g.grants = append(g.grants, gr)
	}
	for fp, f := range a.Fast {
		if f.ClientID != "" {
			g := get("c:" + f.ClientID)
			g.fast = append(g.fast, f)
			g.fastKeys = append(g.fastKeys, fp)
		}
	}
	return gs
}

// sessionKey returns the client key of ss. A session without a client id
// that logged in with a grant's token belongs to that grant's client, so
// that revoking the grant's listing id also ends the session.
func (a *Account) sessionKey(ss *Session) string {
	if ss.ClientID == "" && ss.GrantID != "" {
		if g := a.Grants[ss.GrantID]; g != nil {
			return g.key()
		}
	}
	return ss.key()
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// ListingID returns the opaque id that users see for the client with key k
// of user. A hash of the account and the key keeps client ids and resources
// out of listings and makes ids of one account useless on another.
func ListingID(user, k string) string {
	if gid, ok := strings.CutPrefix(k, "g:"); ok {
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

// view computes the listing of one client group, and reports false when the
// client has neither access nor a live session.
func (s *State) view(user string, a *Account, g *group, opt ViewOptions) (ClientView, bool) {
	id := ListingID(user, g.key)
	revoked := a.Revoked[id]
	v := ClientView{ID: id, Type: TypeAccess, Legacy: strings.HasPrefix(g.key, "r:"), Auth: make([]string, 0, 3)}
	perm := ""
	ua, uaGrant := Agent{}, Agent{}
	var first, last time.Time
	var password time.Time

	if r := g.record; r != nil {
		first, last = r.FirstSeen, r.LastSeen
		password = r.Password
		if r.HadSession {
			v.Type = TypeSession
		}
		ua = r.Agent
	}
	for _, ss := range g.sessions {
		v.Type = TypeSession
		first, last = minNonZero(first, ss.Start), maxTime(last, ss.Last)
		password = maxTime(password, ss.Password)
		if ss.Agent.newer(ua) {
			ua = ss.Agent
		}
		if s.sessionLive(a, ss, revoked, opt) {
			v.Connected = true
			perm = maxPermission(perm, s.sessionPermission(a, ss))
		}
	}
	grantLive := false
	for _, gr := range g.grants {
		first = minNonZero(first, gr.FirstSeen)
		last = maxTime(last, gr.LastUsed)
		if ag := grantAgent(gr); ag.newer(uaGrant) {
			uaGrant = ag
		}
		if a.grantLive(gr, revoked, opt.Now) {
			grantLive = true
			perm = maxPermission(perm, permissionOf(gr))
		}
	}
	fastLive := false
	for _, f := range g.fast {
		first = minNonZero(first, f.FirstSeen)
		if a.accessLive(f.start(), revoked) && f.Revoked.IsZero() && (f.Expires.IsZero() || f.Expires.After(opt.Now)) {
			fastLive = true
		}
	}

	if !password.IsZero() && password.After(a.PasswordChanged) && password.After(a.Deleted) {
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
	if ua.UserAgent == (UserAgent{}) {
		ua = uaGrant
	}
	v.UserAgent = ua.UserAgent
	v.FirstSeen = first.UTC()
	if last.IsZero() || last.Before(first) {
		last = first
	}
	v.LastSeen = last.UTC()
	return v, true
}

// accessLive reports whether access that began at start survives the
// account's password change, deletion and the client's revocation.
func (a *Account) accessLive(start, revoked time.Time) bool {
	return start.After(a.PasswordChanged) && start.After(a.Deleted) && start.After(revoked)
}

func (a *Account) grantLive(g *GrantRecord, revoked, now time.Time) bool {
	if !g.Revoked.IsZero() || !g.Expired.IsZero() {
		return false
	}
	if !g.Expires.IsZero() && !g.Expires.After(now) {
		return false
	}
	return a.accessLive(g.start(), revoked)
}

// sessionLive reports whether ss is bound or hibernated at opt.Now and was
// not ended by its node's restart, stop or silence, a revoke of its client,
// or the account's deletion.
func (s *State) sessionLive(a *Account, ss *Session, revoked time.Time, opt ViewOptions) bool {
	if ss.State != StateBound && ss.State != StateHibernated {
		return false
	}
	if !ss.Start.After(revoked) || !ss.Start.After(a.Deleted) {
		return false
	}
	n := s.Nodes[ss.Node]
	if n == nil {
		return true
	}
	if ss.Start.Before(n.Started) || !ss.Start.After(n.Stopped) {
		return false
	}
	if n.Lifecycle && opt.HeartbeatTimeout > 0 && opt.Now.Sub(n.LastSeen) > opt.HeartbeatTimeout {
		return false
	}
	return true
}

// sessionPermission returns the permission of a session: that of the grant
// it logged in with, else unrestricted.
func (s *State) sessionPermission(a *Account, ss *Session) string {
	if ss.GrantID != "" {
		if g := a.Grants[ss.GrantID]; g != nil {
			return permissionOf(g)
		}
	}
	return events.PermissionUnrestricted
}

func permissionOf(g *GrantRecord) string {
	if g.Meta.Permission == "" {
		return events.PermissionUnrestricted
	}
	return g.Meta.Permission
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

func grantAgent(g *GrantRecord) Agent {
	return Agent{UserAgent: UserAgent{Software: g.Meta.Name, Version: g.Meta.SoftwareVersion, URI: g.Meta.URI}, At: g.MetaAt}
}

package projector

import (
	"time"
	"unique"
)

// State is the folded view of every account and node. Apply changes it; the
// zero value is not ready for use, call NewState. A State is not safe for
// concurrent use: Runner guards it with a lock.
//
// Every merge in Apply is commutative (min and max of times, set union, and
// terminal states guarded by time), so events from several nodes may arrive
// in any order as long as each session's own events keep theirs.
//
// The records of an account are kept compact, because a State holds every
// client of a deployment. Times are Unix nanoseconds, user agents and grant
// metadata are interned, and records sit in slices rather than maps. Client
// ids and token fingerprints in their usual forms are stored as bytes (see
// compact.go).
type State struct {
	// Users maps the bare JID of each account to its folded state.
	Users map[string]*Account
	// Nodes maps a node id to the folded state of that node.
	Nodes map[string]*Node

	// nodeNames interns node ids, so that the sessions of one node share
	// one copy of its name.
	nodeNames map[string]string

	// discard receives the changes of events of dropped sessions.
	discard Session
	// keepEnded keeps ended sessions in Account.Sessions, for tests that
	// compare the views with and without dropping them.
	keepEnded bool
}

// NewState returns an empty State.
func NewState() *State {
	return &State{Users: make(map[string]*Account), Nodes: make(map[string]*Node), nodeNames: make(map[string]string)}
}

// Node is the folded state of one XMPP node.
type Node struct {
	Boot    string
	Started time.Time
	Stopped time.Time
	// LastSeen is the time of the node's newest event of any type.
	LastSeen time.Time
	// Lifecycle is true once the node has sent a node event; only such nodes
	// are subject to the heartbeat timeout.
	Lifecycle bool
}

// Account is the folded state of one account.
type Account struct {
	// Sessions are the account's sessions that have not ended, each
	// identified by its node and session id, in no particular order. The
	// fold drops a session once it ended (see retire.go).
	Sessions []Session

	clients []clientRecord
	grants  []grantRecord
	fast    []fastRecord
	// extra is nil until the account has a revoke, a password change, a
	// deletion or enough records to need an index.
	extra *accountExtra
}

// accountExtra holds the parts of an account that most accounts lack.
type accountExtra struct {
	// revoked lists the listing ids named by client.revoked events, with the
	// time of the newest one of each.
	revoked         []revocation
	passwordChanged stamp
	deleted         stamp
	index           *accountIndex

	// retired sums up the ended sessions dropped from Sessions, one entry
	// per client or grant (see retire.go).
	retired []retiredSessions
	// ended lists the endedKey of every dropped session, sorted.
	ended []uint64
}

type revocation struct {
	id string
	at stamp
}

// SessionState is the state of a session in its lifecycle.
type SessionState uint8

// Session states. StateEnded is final: a session id is never reused.
const (
	StateAuthenticated SessionState = iota + 1
	StateBound
	StateHibernated
	StateEnded
)

var sessionStateNames = [...]string{StateAuthenticated: "authenticated", StateBound: "bound", StateHibernated: "hibernated", StateEnded: "ended"}

func (s SessionState) String() string {
	if int(s) < len(sessionStateNames) && sessionStateNames[s] != "" {
		return sessionStateNames[s]
	}
	return "unknown"
}

// Session is one XMPP session, identified by its node and node-local id.
type Session struct {
	Node string
	ID   string

	// stateAt is the time of the event that set State.
	stateAt stamp
	start   stamp
	last    stamp
	// password is the time of the session's password authentication.
	password stamp
	// agent is the newest user agent the session reported, at agentAt.
	agent   agentHandle
	agentAt stamp

	State SessionState
	// client is the index in Account.clients of the session's client key:
	// "c:" and its client id once one is known, else "r:" and its resource,
	// or noRecord.
	client int32
	// grant is the index in Account.grants of the grant whose token opened
	// the session, or noRecord.
	grant int32
	// idHash is sessionHash(ID), or 0 when unset. It fills what would be
	// padding, and lets findSession skip most sessions without reading
	// their ids, which live elsewhere in memory.
	idHash uint32
}

// noRecord marks a missing index into the records of an account.
const noRecord = -1

// clientRecord is one client key of an account, with the first-seen time
// and user agent from events that named the client outside a session. The
// zero times and agent mean that no such event arrived, which views treat
// like a client known from its sessions, grants or tokens only.
type clientRecord struct {
	// key is the packed client key (see packKey).
	key       string
	firstSeen stamp
	agent     agentHandle
	agentAt   stamp
}

// grantRecord is one OAuth-style grant.
type grantRecord struct {
	id string
	// meta is the grant's newest metadata, with metaAt its time.
	meta   grantMetaHandle
	metaAt stamp
	// expires is the expiry stated by the newest event that has one, at
	// expiresAt.
	expires   stamp
	expiresAt stamp
	issued    stamp
	firstSeen stamp
	lastUsed  stamp
	// client is the index in Account.clients of the smallest client id
	// linked to the grant, or noRecord.
	client  int32
	revoked bool
	expired bool
}

// start returns the time the grant began: its issue time when known.
func (g *grantRecord) start() stamp {
	if g.issued != 0 {
		return g.issued
	}
	return g.firstSeen
}

// fastRecord is one FAST token, known by its fingerprint.
type fastRecord struct {
	// fingerprint is the packed fingerprint (see packFingerprint).
	fingerprint string
	minted      stamp
	expires     stamp
	// firstSeen is the time of the token's earliest event.
	firstSeen stamp
	// client is the index in Account.clients of the token's client id, or
	// noRecord.
	client  int32
	revoked bool
}

func (f *fastRecord) start() stamp {
	if f.minted != 0 {
		return f.minted
	}
	return f.firstSeen
}

// agentHandle is an interned UserAgent; the zero handle is no agent.
type agentHandle = unique.Handle[UserAgent]

// grantMeta is the metadata of a grant that views use.
type grantMeta struct {
	Name, URI, SoftwareID, SoftwareVersion, Permission string
}

// grantMetaHandle is an interned grantMeta; the zero handle is no metadata.
type grantMetaHandle = unique.Handle[grantMeta]

// agentOf returns the user agent of h, or the zero UserAgent for none.
func agentOf(h agentHandle) UserAgent {
	if h == (agentHandle{}) {
		return UserAgent{}
	}
	return h.Value()
}

// internAgent returns the handle of ua, or the zero handle for the zero
// UserAgent.
func internAgent(ua UserAgent) agentHandle {
	if ua == (UserAgent{}) {
		return agentHandle{}
	}
	return unique.Make(ua)
}

func metaOf(h grantMetaHandle) grantMeta {
	if h == (grantMetaHandle{}) {
		return grantMeta{}
	}
	return h.Value()
}

func (u UserAgent) less(v UserAgent) bool {
	if u.Software != v.Software {
		return u.Software < v.Software
	}
	if u.Version != v.Version {
		return u.Version < v.Version
	}
	if u.URI != v.URI {
		return u.URI < v.URI
	}
	return u.Device < v.Device
}

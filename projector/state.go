package projector

import (
	"time"

	"github.com/clientele-xmpp/clientele/events"
)

// State is the folded view of every account and node. Apply changes it; the
// zero value is not ready for use, call NewState. A State is not safe for
// concurrent use: Runner guards it with a lock.
//
// Every merge in Apply is commutative (min and max of times, set union, and
// terminal states guarded by time), so events from several nodes may arrive
// in any order as long as each session's own events keep theirs.
type State struct {
	Users map[string]*Account `json:"users"`
	Nodes map[string]*Node    `json:"nodes"`
}

// NewState returns an empty State.
func NewState() *State {
	return &State{Users: make(map[string]*Account), Nodes: make(map[string]*Node)}
}

// Node is what the stream says about one XMPP node.
type Node struct {
	Boot    string    `json:"boot,omitempty"`
	Started time.Time `json:"started,omitzero"`
	Stopped time.Time `json:"stopped,omitzero"`
	// LastSeen is the time of the node's newest event of any type.
	LastSeen time.Time `json:"last_seen,omitzero"`
	// Lifecycle is true once the node has sent a node event; only such nodes
	// are subject to the heartbeat timeout.
	Lifecycle bool `json:"lifecycle,omitempty"`
}

// Account is the folded state of one account.
type Account struct {
	// Sessions are keyed by "<node>/<session id>".
	Sessions map[string]*Session `json:"sessions,omitempty"`
	// Clients are keyed by client key: "c:<client id>" or "r:<resource>".
	Clients map[string]*ClientRecord `json:"clients,omitempty"`
	Grants  map[string]*GrantRecord  `json:"grants,omitempty"`
	// Fast tokens are keyed by fingerprint.
	Fast map[string]*FastRecord `json:"fast,omitempty"`
	// Revoked maps a listing id to the time of its newest client.revoked.
	Revoked         map[string]time.Time `json:"revoked,omitempty"`
	PasswordChanged time.Time            `json:"password_changed,omitzero"`
	Deleted         time.Time            `json:"deleted,omitzero"`
}

func newAccount() *Account {
	return &Account{
		Sessions: make(map[string]*Session),
		Clients:  make(map[string]*ClientRecord),
		Grants:   make(map[string]*GrantRecord),
		Fast:     make(map[string]*FastRecord),
		Revoked:  make(map[string]time.Time),
	}
}

// Session states.
const (
	StateAuthenticated = "authenticated"
	StateBound         = "bound"
	StateHibernated    = "hibernated"
	StateEnded         = "ended"
)

// Session is one XMPP session, identified by its node and node-local id.
type Session struct {
	Node     string `json:"node"`
	ID       string `json:"id"`
	ClientID string `json:"client_id,omitempty"`
	Resource string `json:"resource,omitempty"`
	GrantID  string `json:"grant_id,omitempty"`
	State    string `json:"state"`
	// StateAt is the time of the event that set State.
	StateAt time.Time `json:"state_at"`
	Start   time.Time `json:"start"`
	Last    time.Time `json:"last"`
	// Password is the time of the session's password authentication.
	Password time.Time `json:"password,omitzero"`
	// Agent is the newest user agent the session reported.
	Agent Agent `json:"agent,omitzero"`
}

// key returns the client key of s, or "" while neither a client id nor a
// resource is known.
func (s *Session) key() string {
	switch {
	case s.ClientID != "":
		return "c:" + s.ClientID
	case s.Resource != "":
		return "r:" + s.Resource
	}
	return ""
}

// Agent is a user agent with the time it was reported.
type Agent struct {
	UserAgent
	At time.Time `json:"at,omitzero"`
}

// newer reports whether a should replace b: it names some software and is
// later, or as late and greater by content, which keeps the choice
// independent of arrival order. An empty agent, from an event that carries
// only a client id or a grant without software metadata, never replaces one.
func (a Agent) newer(b Agent) bool {
	if a.UserAgent == (UserAgent{}) {
		return false
	}
	if !a.At.Equal(b.At) {
		return a.At.After(b.At)
	}
	return b.UserAgent.less(a.UserAgent)
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

// ClientRecord holds the facts about one client that do not belong to a
// single session, grant or token.
type ClientRecord struct {
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	Password   time.Time `json:"password,omitzero"`
	HadSession bool      `json:"had_session,omitempty"`
	Agent      Agent     `json:"agent,omitzero"`
}

// GrantRecord is one OAuth-style grant.
type GrantRecord struct {
	ID       string `json:"id"`
	ClientID string `json:"client_id,omitempty"`
	// Meta is the grant's newest metadata, with MetaAt its time.
	Meta   events.Grant `json:"meta"`
	MetaAt time.Time    `json:"meta_at,omitzero"`
	// Expires is the expiry stated by the newest event that has one, at
	// ExpiresAt.
	Expires   time.Time `json:"expires,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Issued    time.Time `json:"issued,omitzero"`
	FirstSeen time.Time `json:"first_seen"`
	LastUsed  time.Time `json:"last_used,omitzero"`
	Revoked   time.Time `json:"revoked,omitzero"`
	Expired   time.Time `json:"expired,omitzero"`
}

// start returns the time the grant began: its issue time when known.
func (g *GrantRecord) start() time.Time {
	if !g.Issued.IsZero() {
		return g.Issued
	}
	return g.FirstSeen
}

// key returns the client key of g: its client's id, or "g:<grant id>" for a
// grant that no event linked to a client.
func (g *GrantRecord) key() string {
	if g.ClientID != "" {
		return "c:" + g.ClientID
	}
	return "g:" + g.ID
}

// FastRecord is one FAST token, known by its fingerprint.
type FastRecord struct {
	ClientID string    `json:"client_id,omitempty"`
	Minted   time.Time `json:"minted,omitzero"`
	Expires  time.Time `json:"expires,omitzero"`
	Revoked  time.Time `json:"revoked,omitzero"`
	// FirstSeen is the time of the token's earliest event.
	FirstSeen time.Time `json:"first_seen"`
}

func (f *FastRecord) start() time.Time {
	if !f.Minted.IsZero() {
		return f.Minted
	}
	return f.FirstSeen
}

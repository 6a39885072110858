package events

import "time"

// Version is the newest schema version this package writes and reads.
const Version = 1

// Type is the stable wire name of an event type.
type Type string

// Event types. The wire names are part of the public interface.
const (
	AuthPassword      Type = "auth.password"
	AuthToken         Type = "auth.token"
	AuthFast          Type = "auth.fast"
	GrantIssued       Type = "grant.issued"
	GrantUsed         Type = "grant.used"
	GrantRevoked      Type = "grant.revoked"
	GrantExpired      Type = "grant.expired"
	FastMinted        Type = "fast.minted"
	FastRevoked       Type = "fast.revoked"
	SessionBound      Type = "session.bound"
	SessionHibernated Type = "session.hibernated"
	SessionResumed    Type = "session.resumed"
	SessionUnbound    Type = "session.unbound"
	PasswordChanged   Type = "password.changed"
	ClientRevoked     Type = "client.revoked"
	AccountDeleted    Type = "account.deleted"
	NodeStarted       Type = "node.started"
	NodeHeartbeat     Type = "node.heartbeat"
	NodeStopped       Type = "node.stopped"
	// AccountForgotten is the tombstone of an erased account. It names the
	// account by its user key only, never by its JID.
	AccountForgotten Type = "account.forgotten"
)

// Types lists every known event type in a stable order.
var Types = []Type{
	AuthPassword, AuthToken, AuthFast,
	GrantIssued, GrantUsed, GrantRevoked, GrantExpired,
	FastMinted, FastRevoked,
	SessionBound, SessionHibernated, SessionResumed, SessionUnbound,
	PasswordChanged, ClientRevoked, AccountDeleted,
	NodeStarted, NodeHeartbeat, NodeStopped,
	AccountForgotten,
}

// Known reports whether t is an event type of this schema version.
func (t Type) Known() bool {
	_, ok := rules[t]
	return ok
}

// IsNode reports whether t is a node lifecycle event, which has no user.
func (t Type) IsNode() bool {
	return t == NodeStarted || t == NodeHeartbeat || t == NodeStopped
}

// Event is one auth or session event in its wire form. A body field that
// does not apply to the event's type is nil or empty and left out of the JSON.
type Event struct {
	ID   string    `json:"id"`
	Type Type      `json:"type"`
	V    int       `json:"v"`
	Time time.Time `json:"time"`
	Node string    `json:"node"`
	User string    `json:"user,omitempty"`

	Client  *Client  `json:"client,omitempty"`
	Session *Session `json:"session,omitempty"`
	Grant   *Grant   `json:"grant,omitempty"`
	Fast    *Fast    `json:"fast,omitempty"`

	Mechanism string `json:"mechanism,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Boot      string `json:"boot,omitempty"`
	Target    string `json:"target,omitempty"`
	Actor     string `json:"actor,omitempty"`
	Request   string `json:"request,omitempty"`
	IP        string `json:"ip,omitempty"`
	// UserKey is the user key (see Key) of the account that an
	// account.forgotten event erases. Other types leave it empty.
	UserKey string `json:"user_key,omitempty"`
}

// Client identifies the software of a client. ID is the stable client id of
// a SASL2 user agent (XEP-0388) and is empty for legacy clients.
type Client struct {
	ID       string `json:"id,omitempty"`
	Software string `json:"software,omitempty"`
	Version  string `json:"version,omitempty"`
	URI      string `json:"uri,omitempty"`
	Device   string `json:"device,omitempty"`
}

// Session identifies one XMPP session on the publishing node. The pair of
// the event's node and ID is unique; Resource is known once bound.
type Session struct {
	ID       string `json:"id"`
	Resource string `json:"resource,omitempty"`
}

// Grant describes an OAuth-style authorization grant and its client.
type Grant struct {
	ID              string    `json:"id"`
	Name            string    `json:"name,omitempty"`
	URI             string    `json:"uri,omitempty"`
	SoftwareID      string    `json:"software_id,omitempty"`
	SoftwareVersion string    `json:"software_version,omitempty"`
	Permission      string    `json:"permission,omitempty"`
	Expires         time.Time `json:"expires,omitzero"`
}

// Fast describes a FAST token (XEP-0484) by its fingerprint. The token value
// itself never appears in an event.
type Fast struct {
	Fingerprint string    `json:"fingerprint"`
	Expires     time.Time `json:"expires,omitzero"`
}

// Permission levels of a grant, as XEP-0494 names them.
const (
	PermissionUnrestricted = "unrestricted"
	PermissionNormal       = "normal"
	PermissionRestricted   = "restricted"
)

// ClientID returns the SASL2 client id of e, or "" when it carries none.
func (e *Event) ClientID() string {
	if e.Client == nil {
		return ""
	}
	return e.Client.ID
}

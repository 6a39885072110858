package projector

import "time"

// Client types of a listing.
const (
	// TypeSession is a client that has had an XMPP session.
	TypeSession = "session"
	// TypeAccess is a client that only holds access, such as an OAuth grant
	// used over HTTP.
	TypeAccess = "access"
)

// Auth methods that still grant a client access.
const (
	AuthPassword = "password"
	AuthGrant    = "grant"
	AuthFast     = "fast"
)

// ClientView is one client of an account as a listing shows it. Its JSON
// form is the one that the query service and the CLI print.
type ClientView struct {
	// ID is the opaque listing id, "client/<hash>" or "grant/<grant id>".
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Connected bool      `json:"connected"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Auth lists the methods that still grant access, in the order password,
	// grant, fast.
	Auth []string `json:"auth"`
	// Permission is unrestricted, normal or restricted (XEP-0494).
	Permission string    `json:"permission"`
	Legacy     bool      `json:"legacy"`
	UserAgent  UserAgent `json:"user_agent"`
}

// UserAgent is the latest known software of a client.
type UserAgent struct {
	Software string `json:"software,omitempty"`
	Version  string `json:"version,omitempty"`
	URI      string `json:"uri,omitempty"`
	Device   string `json:"device,omitempty"`
}

// HasAuth reports whether method is among v's live auth methods.
func (v *ClientView) HasAuth(method string) bool {
	for _, m := range v.Auth {
		if m == method {
			return true
		}
	}
	return false
}

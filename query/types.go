package query

import "github.com/clientele-xmpp/clientele/projector"

// ListRequest is a request for the clients of User. When MinSeq is set, the reply
// waits until the projector has applied that stream sequence, so that a read
// after a write on another replica sees the write.
type ListRequest struct {
	User   string `json:"user"`
	MinSeq uint64 `json:"min_seq,omitempty"`
}

// ListReply is the client list of one account.
type ListReply struct {
	User    string                 `json:"user"`
	Clients []projector.ClientView `json:"clients"`
	// Seq is the last stream sequence applied to the view.
	Seq uint64 `json:"seq"`
}

// RevokeRequest is a request to revoke clients of User. Selector is a listing id
// from a ListReply, "software/NAME" or "software/NAME/VERSION"; a software
// selector revokes every matching client of the account.
type RevokeRequest struct {
	User     string `json:"user"`
	Selector string `json:"id"`
	// Actor is who asked: the user's JID, or an administrator's name.
	Actor string `json:"actor,omitempty"`
	// RequestID makes retries of one request idempotent; empty means new.
	RequestID string `json:"request_id,omitempty"`
}

// RevokeReply reports a revoke that JetStream stored.
type RevokeReply struct {
	// Revoked lists the listing ids of the revoked clients.
	Revoked []string `json:"revoked"`
	// PasswordResetRequired is true when a revoked client still holds
	// password access, which only a password change ends.
	PasswordResetRequired bool `json:"password_reset_required"`
	// Seq is the stream sequence of the last client.revoked event.
	Seq uint64 `json:"seq"`
}

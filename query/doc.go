// Package query is the read and command API over the projector's views. It
// lists an account's clients and revokes them, reads an account's history
// and its clients at a past time, and serves the admin operations that act
// across accounts or erase one. It runs as a NATS micro service whose
// replicas share requests in a queue group, and provides the Client that the
// CLI and the XMPP handler use to call it.
package query

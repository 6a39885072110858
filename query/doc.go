// Package query is the read and command API over the projector's views: it
// lists an account's clients and revokes them, as a NATS micro service whose
// replicas share requests in a queue group, and provides the Client that the
// CLI and the XMPP handler use to call it.
package query

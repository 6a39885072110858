// Package events defines the auth and session events that XMPP nodes
// publish, with their JSON wire form and validation. It also defines the
// NATS subjects and JetStream streams they travel on, the revoke commands
// sent back to nodes, and the Publisher that nodes use to append events.
//
// # Wire form
//
// Every event is one JSON object with an envelope (id, type, v, time, node,
// user) and the body fields of its type. Field names are part of the public
// interface. Version 1 is the only version so far: a decoder meeting a newer
// version returns ErrNewerVersion so that consumers can skip it.
//
// # Subjects
//
// User events travel on clientele.events.user.<domain-key>.<user-key>.<type>
// and node events on clientele.events.node.<node>.<type>. The keys are short
// hashes of the domain and of the bare JID, so that JIDs, which contain dots,
// never become subject tokens and one account's history is one subject filter.
package events

// Package simulate runs a deterministic simulation of a cluster of XMPP
// nodes that publish auth and session events to JetStream and carry out the
// revoke commands addressed to them.
//
// # Events
//
// A Generator produces the event sequence of K nodes (xmpp-1 … xmpp-K) and N
// accounts (user1@domain … userN@domain): node starts and rare restarts,
// password, FAST and OAuth-token logins followed by resource binding, stream
// management hibernation and resumption, unbinding, FAST tokens, OAuth grants
// used over HTTP, grant expiry, password changes and new devices. The events
// of one session are always in order (authentication, bound, then hibernated
// and resumed, then unbound), while the sessions of all nodes interleave.
//
// # Determinism
//
// For one Config, and so one seed and start time, the Generator returns the
// same events with the same ids and times. Decisions come from a PCG seeded
// from the seed, and ids, session ids, client ids and token fingerprints come
// from a ChaCha8 stream seeded from it too. Event ids are ULIDs of the event
// time, so a second run with the same seed inside the stream's duplicate
// window stores every event once. Revoke commands change the simulated
// state, so the sequence after the first command depends on when commands
// arrive.
//
// # Time
//
// Event times come from a simulated clock, not the wall clock. It starts at
// Config.Start, by default the current hour minus six hours, and spreads the
// expected number of events over those six hours, so that no generated event
// lies after the current hour.
//
// Node heartbeats are the exception, because a projector ends the sessions
// of a node whose last heartbeat is older than its timeout. Run therefore
// publishes node.heartbeat with the wall-clock time after the first batch,
// every HeartbeatInterval while it runs, and once more when it finishes.
// After Run returns, the simulated sessions count as ended once that timeout
// passes, unless Config.Serve keeps the nodes alive.
//
// # Revocation
//
// Every simulated node consumes the revoke commands of the domain with its
// own durable consumer. For a command it ends the matching sessions it hosts
// with session.unbound (reason "revoked") and publishes grant.revoked and
// fast.revoked for the grants and FAST tokens that it issued. The events of a
// revoke carry the wall-clock time and ids derived from the command id, so a
// redelivered command publishes the same ids.
package simulate

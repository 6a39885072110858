// Package ingest is the HTTP interface of clientele for XMPP servers that
// cannot use NATS directly, such as Prosody with mod_clientele:
//
//   - POST /v1/events appends newline-delimited events in the wire form of
//     package events and returns one result per event, a success only after
//     JetStream acknowledged the event.
//   - GET /v1/commands long-polls the revoke commands of one node and domain
//     from a durable JetStream consumer, and POST /v1/commands/ack
//     acknowledges them. A command that is not acknowledged is delivered
//     again, so delivery is at least once.
//   - GET /v1/settings returns the cluster-wide settings, waiting for a
//     change when asked to.
//
// Every request carries a bearer token from a token file. README.md in
// this folder documents the interface for node implementers.
package ingest

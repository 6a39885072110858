// Package bench measures clientele against bare NATS baselines taken in the
// same run, on an embedded nats-server with a temporary store.
//
// Every figure is a ratio to a baseline that does the same transport work
// without clientele's code, so that the figures show how much clientele
// adds on top of NATS on the machine at hand:
//
//   - projector catch-up rate over the events in the stream, against a bare
//     ordered consumer reading the same stream;
//   - publisher rate with PublishBatch, against bare asynchronous JetStream
//     publishes of equally sized payloads;
//   - list latency over the query service, against a bare request-reply
//     echo, and over XMPP through Prosody against an XMPP ping, when
//     Prosody is installed;
//   - Go heap per tracked client after folding many accounts, with no
//     baseline;
//   - restart time from a snapshot, against a full replay of the stream;
//   - revoke round trip, against a synchronous JetStream publish.
//
// Run executes them in that order and returns a Report, which WriteTable
// prints and WriteJSON stores. Ratios are reported with their targets and
// never asserted, because they depend on the machine.
package bench

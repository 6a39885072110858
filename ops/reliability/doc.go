// Package reliability contains the tests that break clientele on purpose.
// They kill `clientele serve` with SIGKILL during ingest and snapshot
// writes, retry and interleave the publishes of several nodes, restart
// NATS under a running service, and kill servers of a three-node JetStream
// cluster. The package has no code besides its tests, which build
// cmd/clientele and nats-server and run them as subprocesses on loopback.
//
// The default run is short. CLIENTELE_LONG=1 runs the long variants, and
// RELIABILITY.md at the repository root records what they found.
package reliability

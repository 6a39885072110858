// Package ops runs clientele: it starts the embedded nats-server with
// JetStream, connects to NATS, builds the slog logger, reads the
// configuration of the serve command from flags and environment variables,
// and serves the Prometheus metrics and health endpoints over HTTP.
//
// # Embedded NATS
//
// StartEmbedded runs a nats-server with JetStream in the process, with its
// file store under DIR/jetstream of the data directory. By default it
// listens on 127.0.0.1:4222 only, so that a single machine needs nothing
// installed and nothing is reachable from other hosts. Its log lines go to the given *slog.Logger.
//
// # Configuration
//
// Every flag has an environment variable named CLIENTELE_ followed by the
// flag name in upper snake case, for example CLIENTELE_NATS_URL for
// --nats-url. ParseFlags applies the environment variables as defaults and
// then parses the command line, so a flag overrides its variable. The NATS
// URL also falls back to NATS_URL, the variable of the NATS tools, so the
// order is --nats-url, then CLIENTELE_NATS_URL, then NATS_URL. A variable
// that is set to the empty string counts as unset.
//
// # HTTP
//
// NewHTTPHandler serves /metrics from an injected prometheus.Gatherer,
// /healthz while the process runs, and /readyz once a readiness function
// returns nil. ServeHTTP runs an http.Server with it until its context ends.
package ops

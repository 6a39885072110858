package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops"
	"github.com/clientele-xmpp/clientele/ops/ingest"
	"github.com/clientele-xmpp/clientele/ops/settings"
)

// defaultIngestListen is the address of the node interface, on loopback
// like every default listener of serve.
const defaultIngestListen = "127.0.0.1:9751"

// ingestFlags are the flags of serve's node interface, the HTTP endpoints
// that XMPP servers such as Prosody use.
type ingestFlags struct {
	Listen    string
	TokenFile string
}

func registerIngestFlags(fs *flag.FlagSet) *ingestFlags {
	f := &ingestFlags{}
	fs.StringVar(&f.Listen, "ingest-listen", defaultIngestListen, "`HOST:PORT` of the node interface (POST /v1/events, GET /v1/commands, GET /v1/settings) for XMPP servers")
	fs.StringVar(&f.TokenFile, "ingest-token-file", "", "`file` with the bearer tokens of the node interface, one per line; empty runs no node interface")
	return f
}

func (f *ingestFlags) enabled() bool { return f.TokenFile != "" }

func (f *ingestFlags) validate() error {
	if !f.enabled() {
		return nil
	}
	if _, _, err := net.SplitHostPort(f.Listen); err != nil {
		return fmt.Errorf("%w: --ingest-listen %q: expected HOST:PORT such as %s", ops.ErrInvalidConfig, f.Listen, defaultIngestListen)
	}
	return nil
}

// startNodeInterface creates the settings bucket, and when --ingest-token-file
// is set, listens on --ingest-listen and serves the node interface until
// ctx ends. The returned channel receives the server's result; it is nil,
// and so never ready, when the node interface is off.
func startNodeInterface(ctx context.Context, f *ingestFlags, s *service, replicas int, logger *slog.Logger) (chan error, error) {
	store, err := settings.Ensure(ctx, s.js, replicas)
	if err != nil {
		return nil, err
	}
	if !f.enabled() {
		return nil, nil
	}
	tokens, err := ingest.LoadTokens(f.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("--ingest-token-file: %w", err)
	}

	cache := settings.NewCache(store, logger.With("component", "settings"))
	go func() {
		if err := cache.Run(ctx); err != nil {
			logger.Error("settings watch failed: GET /v1/settings returns 503 until serve restarts", "error", err)
		}
	}()

	srv, err := ingest.New(ingest.Config{
		JS: s.js, Publisher: events.NewPublisher(s.js, events.PublisherOptions{}),
		Settings: cache, Tokens: tokens, Logger: logger, Metrics: ingest.NewMetrics(s.registry),
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", f.Listen)
	if err != nil {
		return nil, fmt.Errorf("%w: node interface on %s: %w: stop the program that uses this address or pass --ingest-listen with a free HOST:PORT", ops.ErrListen, f.Listen, err)
	}

	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	return done, nil
}

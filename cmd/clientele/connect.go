package main

import (
	"context"
	"flag"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/clientele-xmpp/clientele/ops"
)

// natsFlags registers the NATS client flags of a client subcommand on fs.
// ApplyEnv falls back to NATS_URL, the variable of the NATS tools, for the
// URL.
func natsFlags(fs *flag.FlagSet, env *environment) *ops.NATSConfig {
	cfg := ops.DefaultNATSConfig()
	cfg.Name = "clientele " + fs.Name()
	cfg.RegisterFlags(fs)
	return &cfg
}

// connectClient connects a short-lived client subcommand to NATS, giving up
// after ten seconds.
func connectClient(ctx context.Context, env *environment, cfg *ops.NATSConfig) (*nats.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return ops.Connect(ctx, *cfg, logger)
}

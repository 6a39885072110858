package main

import (
	"context"
	"flag"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
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

// streamLastSeq returns the event stream's last sequence, so that a list
// waits until the view has applied every event stored before it, such as
// those of a `simulate` or `publish` that just finished. It returns 0, and
// the list does not wait, when the stream cannot be read, as with NATS
// permissions that do not allow it.
func streamLastSeq(ctx context.Context, nc *nats.Conn) uint64 {
	js, err := jetstream.New(nc)
	if err != nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		return 0
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return 0
	}
	return info.State.LastSeq
}

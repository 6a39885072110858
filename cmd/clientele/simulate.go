package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/ops/simulate"
)

// defaultSimulatedEvents is the event count of a simulation that sets
// neither --events nor --duration.
const defaultSimulatedEvents = 10000

func runSimulate(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("simulate", env.stderr)
	natsCfg := natsFlags(fs, env)
	var cfg simulate.Config
	fs.IntVar(&cfg.Nodes, "nodes", simulate.DefaultNodes, "number of simulated XMPP nodes, named xmpp-1 to xmpp-K")
	fs.IntVar(&cfg.Users, "users", simulate.DefaultUsers, "number of accounts, named user1@DOMAIN to userN@DOMAIN")
	fs.IntVar(&cfg.Events, "events", 0, fmt.Sprintf("stop after this many events; without --events and --duration, %d", defaultSimulatedEvents))
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop after this much wall-clock time, as a duration such as 5m")
	fs.Float64Var(&cfg.Rate, "rate", 0, "events per second; 0 publishes as fast as JetStream acknowledges")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the simulated history; the same seed gives the same events")
	fs.StringVar(&cfg.Domain, "domain", simulate.DefaultDomain, "domain of the simulated accounts")
	fs.BoolVar(&cfg.Serve, "serve", false, "after the last event, keep the nodes heartbeating and carrying out revoke commands until interrupted")
	quiet := fs.Bool("quiet", false, "print no progress, only the summary")
	if _, err := parseArgs(fs, env, args, 0, 0); err != nil {
		return err
	}
	if cfg.Events == 0 && cfg.Duration == 0 {
		cfg.Events = defaultSimulatedEvents
	}
	cfg.Logger = slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	nc, err := connectClient(ctx, env, natsCfg)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	progress := newProgressPrinter(env.stderr, "events", *quiet)
	stats, err := simulate.Run(ctx, js, cfg, func(pr simulate.Progress) {
		progress.print(progressReport{Done: int64(pr.Published), Total: int64(cfg.Events), Rate: pr.Rate, Elapsed: pr.Elapsed, Finished: pr.Finished})
	})
	progress.done()
	if err != nil && !(cfg.Serve && errors.Is(err, context.Canceled)) {
		return err
	}
	fmt.Fprintf(env.stdout, "published %d events for %d accounts on %d nodes in %s (%d heartbeats, %d revoke commands carried out)\n",
		stats.Published, cfg.Users, cfg.Nodes, stats.Elapsed.Round(time.Millisecond), stats.Heartbeats, stats.Commands)
	return nil
}

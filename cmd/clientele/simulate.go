package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
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

	progress := newProgressPrinter(env.stderr, cfg.Events, *quiet)
	stats, err := simulate.Run(ctx, js, cfg, progress.print)
	progress.done()
	if err != nil && !(cfg.Serve && errors.Is(err, context.Canceled)) {
		return err
	}
	fmt.Fprintf(env.stdout, "published %d events for %d accounts on %d nodes in %s (%d heartbeats, %d revoke commands carried out)\n",
		stats.Published, cfg.Users, cfg.Nodes, stats.Elapsed.Round(time.Millisecond), stats.Heartbeats, stats.Commands)
	return nil
}

// progressPrinter shows a run's progress: one rewritten line on a terminal,
// or a plain line every few seconds otherwise.
type progressPrinter struct {
	w        io.Writer
	total    int
	terminal bool
	quiet    bool
	last     time.Time
	printed  bool
}

func newProgressPrinter(w io.Writer, total int, quiet bool) *progressPrinter {
	return &progressPrinter{w: w, total: total, terminal: isTerminal(w), quiet: quiet}
}

func (p *progressPrinter) print(pr simulate.Progress) {
	if p.quiet {
		return
	}
	every := 5 * time.Second
	if p.terminal {
		every = 200 * time.Millisecond
	}
	if !pr.Finished && time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	line := fmt.Sprintf("%d events", pr.Published)
	if p.total > 0 {
		line = fmt.Sprintf("%d/%d events (%.0f%%)", pr.Published, p.total, 100*float64(pr.Published)/float64(p.total))
	}
	line += fmt.Sprintf(", %.0f events/s, %s", pr.Rate, pr.Elapsed.Round(time.Second))
	if p.total > 0 && pr.Rate > 0 && !pr.Finished {
		eta := time.Duration(float64(p.total-pr.Published) / pr.Rate * float64(time.Second))
		line += fmt.Sprintf(", ETA %s", eta.Round(time.Second))
	}
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.printed = true
		return
	}
	fmt.Fprintln(p.w, line)
}

func (p *progressPrinter) done() {
	if p.printed {
		fmt.Fprintln(p.w)
	}
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}


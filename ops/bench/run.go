package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops"
	"github.com/clientele-xmpp/clientele/projector"
)

// Run executes the measurements that cfg selects, in the order of
// Measurements, and returns their report. The measurements that need NATS
// share one embedded nats-server with a store in a new temporary directory,
// which Run removes before it returns. It returns an error when ctx ends or
// a part of the pipeline fails. A measurement that cannot run here, such as
// XMPP without Prosody, is reported as skipped instead.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	started := time.Now()
	report := &Report{Machine: describeMachine(), Config: cfg, Started: started.UTC(), LoadStart: loadAverage()}
	defer func() {
		report.Duration = time.Since(started).Seconds()
		report.LoadEnd = loadAverage()
	}()

	if cfg.selected(MeasureHeap) {
		res, err := measureHeap(ctx, cfg)
		if err != nil {
			return report, err
		}
		report.Results = append(report.Results, res)
	}
	if !cfg.needsNATS() {
		return report, nil
	}
	env, err := startEnvironment(ctx, cfg)
	if err != nil {
		return report, err
	}
	defer env.close()
	err = env.measure(ctx, report)
	return report, err
}

// needsNATS reports whether a selected measurement uses the stream.
func (c Config) needsNATS() bool {
	for _, name := range []string{MeasurePublish, MeasureCatchUp, MeasureRestart, MeasureList, MeasureXMPP, MeasureRevoke} {
		if c.selected(name) {
			return true
		}
	}
	return false
}

// environment is the embedded server of a run with one connection for each
// part, so that no part queues behind another on a shared connection.
type environment struct {
	cfg      Config
	dir      string
	server   *ops.Embedded
	conns    []*nats.Conn
	client   *nats.Conn
	clientJS jetstream.JetStream
	// runner is the projector restarted from its snapshot, which serves
	// the list and revoke measurements; stopRunner stops it.
	runner     *projector.Runner
	stopRunner func()
}

func startEnvironment(ctx context.Context, cfg Config) (*environment, error) {
	dir, err := os.MkdirTemp(cfg.Dir, "clientele-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: temporary store: %w", err)
	}
	env := &environment{cfg: cfg, dir: dir}
	env.server, err = ops.StartEmbedded(ctx, ops.EmbeddedConfig{
		DataDir: dir, Listen: "127.0.0.1:0", ServerName: "clientele-bench", Logger: cfg.Logger,
	})
	if err != nil {
		env.close()
		return nil, err
	}
	env.client, err = env.connect("bench client")
	if err == nil {
		env.clientJS, err = jetstream.New(env.client)
	}
	if err == nil {
		err = events.EnsureStreams(ctx, env.clientJS, events.StreamOptions{})
	}
	if err != nil {
		env.close()
		return nil, err
	}
	return env, nil
}

// connect opens a TCP connection to the embedded server, closed by close.
func (env *environment) connect(name string) (*nats.Conn, error) {
	nc, err := nats.Connect(env.server.ClientURL(), nats.Name(name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("bench: connect %s: %w", name, err)
	}
	env.conns = append(env.conns, nc)
	return nc, nil
}

// connectJS opens a connection like connect and returns its JetStream
// context.
func (env *environment) connectJS(name string) (jetstream.JetStream, error) {
	nc, err := env.connect(name)
	if err != nil {
		return nil, err
	}
	return jetstream.New(nc)
}

func (env *environment) close() {
	if env.stopRunner != nil {
		env.stopRunner()
	}
	for _, nc := range env.conns {
		nc.Close()
	}
	if env.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := env.server.Shutdown(ctx); err != nil {
			env.cfg.Logger.Error("embedded nats-server shutdown failed", "error", err)
		}
		cancel()
	}
	if err := os.RemoveAll(env.dir); err != nil {
		env.cfg.Logger.Error("temporary store not removed", "dir", env.dir, "error", err)
	}
}

// measure fills the stream and runs the selected measurements that use it.
func (env *environment) measure(ctx context.Context, report *Report) error {
	add := func(res Result, err error) error {
		if err != nil {
			return err
		}
		if env.cfg.selected(res.Name) {
			report.Results = append(report.Results, res)
		}
		return nil
	}
	// The stream is filled even when publish is not selected, because the
	// other measurements read it.
	if err := add(env.measurePublish(ctx)); err != nil {
		return err
	}
	catchUp, err := env.measureCatchUp(ctx)
	if err := add(catchUp, err); err != nil {
		return err
	}
	if err := add(env.measureRestart(ctx, catchUp)); err != nil {
		return err
	}
	for _, m := range []struct {
		name    string
		measure func(context.Context) ([]Result, error)
	}{
		{MeasureList, env.measureList},
		{MeasureXMPP, env.measureXMPP},
		{MeasureRevoke, env.measureRevoke},
	} {
		if !env.cfg.selected(m.name) {
			continue
		}
		results, err := m.measure(ctx)
		if err != nil {
			return err
		}
		report.Results = append(report.Results, results...)
	}
	return nil
}

// labeled runs f with the CPU profile label "step" set to step, which the
// goroutines that f starts inherit. A profile of a run then separates the
// client side of a baseline from clientele's with go tool pprof -tagfocus.
func labeled(ctx context.Context, step string, f func(context.Context) error) error {
	var err error
	pprof.Do(ctx, pprof.Labels("step", step), func(ctx context.Context) { err = f(ctx) })
	return err
}

// waitReady polls r until it has applied every message that was in the
// stream when it started, and returns the time that took from start.
func waitReady(ctx context.Context, r *projector.Runner, start time.Time, runErr <-chan error) (time.Duration, error) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		if r.Ready() == nil {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case err := <-runErr:
			if err == nil {
				err = errors.New("stopped early")
			}
			return 0, fmt.Errorf("bench: projector: %w", err)
		case <-tick.C:
		}
	}
}

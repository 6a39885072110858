package simulate

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/nats-io/nats.go/jetstream"
)

// paceInterval is the wall-clock time between batches when Config.Rate is set.
const paceInterval = 100 * time.Millisecond

// progressInterval is the minimum wall-clock time between progress reports.
const progressInterval = time.Second

// Run simulates cfg's nodes on js and blocks until generation reaches
// cfg.Events or cfg.Duration, or ctx ends. The event, dead-letter and command
// streams must exist (see events.EnsureStreams).
//
// Before the first event, Run creates one durable consumer per node on the
// command stream, filtered to the commands of cfg.Domain and delivering only
// commands stored after its creation. The durable name contains the domain
// key, the seed and the node, so a later run with the same seed resumes it
// and receives the commands stored in between. Commands are carried out on
// Run's goroutine between batches, and each is acknowledged after its events
// were published.
//
// progress, if not nil, is called on Run's goroutine at most once a second
// while events are published, and once with Finished set when generation
// reaches a limit. With cfg.Serve, Run then keeps heartbeating and carrying
// out commands until ctx ends.
//
// NOTE: a command delivered before the sessions that it names were generated
// again, such as one stored while no simulator ran, ends nothing.
//
// Run returns ctx's error when ctx ends before a limit of cfg was reached,
// and nil when ctx ends a run that serves or has no limit. A failed publish,
// or a generated event that fails validation, ends the run with an error.
func Run(ctx context.Context, js jetstream.JetStream, cfg Config, progress func(Progress)) (Stats, error) {
	cfg, err := cfg.withDefaults(time.Now())
	if err != nil {
		return Stats{}, err
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	r := &runner{
		cfg:      cfg,
		js:       js,
		pub:      events.NewPublisher(js, events.PublisherOptions{}),
		gen:      newGenerator(cfg),
		progress: progress,
		commands: make(chan command, 64),
	}

	sub, err := r.subscribe(ctx)
	if err != nil {
		return Stats{}, err
	}
	defer sub.stop()

	cfg.Logger.Info("simulation started", "nodes", cfg.Nodes, "users", cfg.Users, "domain", cfg.Domain,
		"seed", cfg.Seed, "events", cfg.Events, "duration", cfg.Duration, "rate", cfg.Rate, "start", cfg.Start)
	err = r.run(ctx)
	r.stats.Elapsed = time.Since(r.start)
	if err != nil {
		cfg.Logger.Error("simulation failed", "published", r.stats.Published, "error", err)
	} else {
		cfg.Logger.Info("simulation stopped", "published", r.stats.Published, "commands", r.stats.Commands,
			"elapsed", r.stats.Elapsed)
	}
	return r.stats, err
}

// runner is the state of one Run. Only Run's goroutine uses it, except for
// the commands channel.
type runner struct {
	cfg      Config
	js       jetstream.JetStream
	pub      *events.Publisher
	gen      *Generator
	progress func(Progress)
	commands chan command

	stats        Stats
	start        time.Time
	generated    int
	lastProgress time.Time
}

// timers are the channels that a runner waits on besides ctx and commands.
// A nil channel never fires.
type timers struct {
	deadline  <-chan time.Time
	heartbeat <-chan time.Time
	pace      <-chan time.Time
}

func (r *runner) run(ctx context.Context) error {
	r.start = time.Now()
	heartbeat := time.NewTicker(r.cfg.HeartbeatInterval)
	defer heartbeat.Stop()
	tm := timers{heartbeat: heartbeat.C}
	if r.cfg.Duration > 0 {
		deadline := time.NewTimer(r.cfg.Duration)
		defer deadline.Stop()
		tm.deadline = deadline.C
	}
	if r.cfg.Rate > 0 {
		pace := time.NewTicker(paceInterval)
		defer pace.Stop()
		tm.pace = pace.C
	}

	if err := r.generate(ctx, tm); err != nil {
		return r.stopResult(ctx, err)
	}
	r.report(true)
	if err := r.heartbeat(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	if !r.cfg.Serve {
		return nil
	}

	tm.deadline, tm.pace = nil, nil
	for {
		if _, err := r.wait(ctx, tm, true); err != nil {
			return r.stopResult(ctx, err)
		}
	}
}

// generate publishes generated events until a limit of the config is
// reached, carrying out commands and heartbeating in between.
func (r *runner) generate(ctx context.Context, tm timers) error {
	firstBatch := true
	for {
		n := r.batchSize()
		if n > 0 {
			if err := r.publishGenerated(ctx, n); err != nil {
				return err
			}
			r.report(false)
		}
		if firstBatch && n > 0 {
			firstBatch = false
			if err := r.heartbeat(ctx); err != nil {
				return err
			}
		}
		if r.cfg.Events > 0 && r.generated >= r.cfg.Events {
			return nil
		}
		deadline, err := r.wait(ctx, tm, n == 0)
		if err != nil || deadline {
			return err
		}
	}
}

// batchSize returns how many events to generate now: a full batch without a
// rate, the events due at the rate otherwise, and never more than the
// config's remaining events.
func (r *runner) batchSize() int {
	remaining := math.MaxInt
	if r.cfg.Events > 0 {
		remaining = r.cfg.Events - r.generated
	}
	n := r.cfg.BatchSize
	if r.cfg.Rate > 0 {
		due := int(r.cfg.Rate*time.Since(r.start).Seconds()) - r.generated
		n = min(max(due, 0), r.cfg.BatchSize)
	}
	return min(n, remaining)
}

// wait handles one ready timer or command and reports whether the deadline
// passed. With block false it returns at once when nothing is ready. It
// returns ctx's error when ctx ended.
func (r *runner) wait(ctx context.Context, tm timers, block bool) (deadline bool, err error) {
	var idle <-chan time.Time
	if !block {
		idle = ready
	}
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-tm.deadline:
		return true, nil
	case c := <-r.commands:
		return false, r.handle(ctx, c)
	case <-tm.heartbeat:
		return false, r.heartbeat(ctx)
	case <-tm.pace:
		return false, nil
	case <-idle:
		return false, nil
	}
}

// ready is a closed channel, which a select receives from at once.
var ready = func() chan time.Time {
	c := make(chan time.Time)
	close(c)
	return c
}()

// stopResult returns the result of a run that stopped with err. When ctx
// ended, it returns nil if ending by ctx is the normal stop, as with Serve
// or without limits, and ctx's error otherwise.
func (r *runner) stopResult(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	if r.cfg.Serve || (r.cfg.Events == 0 && r.cfg.Duration == 0) {
		return nil
	}
	return ctx.Err()
}

// publishGenerated publishes the next n generated events, and the rest of
// the action of the last one unless that passes the config's Events. Batches
// therefore end between actions. Commands are handled between batches, so a
// revoke never falls between the authentication and binding of a session.
func (r *runner) publishGenerated(ctx context.Context, n int) error {
	limit := math.MaxInt
	if r.cfg.Events > 0 {
		limit = r.cfg.Events - r.generated
	}
	batch := make([]*events.Event, 0, n)
	for len(batch) < n || (r.gen.midAction() && len(batch) < limit) {
		e, err := r.gen.Next()
		if err != nil {
			return err
		}
		batch = append(batch, e)
	}
	r.generated += len(batch)
	acked, err := r.publish(ctx, batch)
	r.stats.Published += acked
	return err
}

// heartbeat publishes node.heartbeat with the wall-clock time and the
// current boot id for every node.
func (r *runner) heartbeat(ctx context.Context) error {
	now := time.Now().UTC()
	batch := make([]*events.Event, 0, len(r.gen.nodes))
	for _, n := range r.gen.nodes {
		batch = append(batch, &events.Event{
			ID: events.NewID(), Type: events.NodeHeartbeat, V: events.Version,
			Time: now, Node: n.name, Boot: n.boot,
		})
	}
	acked, err := r.publish(ctx, batch)
	r.stats.Heartbeats += acked
	return err
}

// publish publishes batch and returns how many events JetStream
// acknowledged, and the first error.
func (r *runner) publish(ctx context.Context, batch []*events.Event) (int, error) {
	results, err := r.pub.PublishBatch(ctx, batch)
	acked := 0
	var first error
	for i, res := range results {
		if res.Err == nil {
			acked++
			continue
		}
		if first == nil {
			first = fmt.Errorf("simulate: publish %s event %s: %w", batch[i].Type, batch[i].ID, res.Err)
		}
	}
	if err != nil {
		return acked, err
	}
	return acked, first
}

// report calls the progress callback, at most once per progressInterval
// unless finished is set.
func (r *runner) report(finished bool) {
	now := time.Now()
	if !finished && now.Sub(r.lastProgress) < progressInterval {
		return
	}
	r.lastProgress = now
	elapsed := now.Sub(r.start)
	p := Progress{Published: r.stats.Published, Elapsed: elapsed, Finished: finished}
	if elapsed > 0 {
		p.Rate = float64(p.Published) / elapsed.Seconds()
	}
	r.progress(p)
}

package projector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
)

// Config sets up a Runner. JS is required; the zero value of every other
// field works.
type Config struct {
	JS     jetstream.JetStream
	Logger *slog.Logger
	// Metrics may be nil.
	Metrics *Metrics
	// Stream is the event stream's name; empty means events.StreamName.
	Stream string
	// SnapshotBucket is the object store bucket of snapshots; empty means
	// "clientele-snapshots".
	SnapshotBucket string
	// SnapshotInterval is the time between snapshots; 0 means one minute and
	// a negative value disables periodic snapshots.
	SnapshotInterval time.Duration
	// Replicas of the snapshot bucket; 0 means 1.
	Replicas int
	// HeartbeatTimeout ends the sessions of a silent node; 0 means two
	// minutes and a negative value disables it.
	HeartbeatTimeout time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// OnApply, when set, is called with every event right after it was
	// applied, while the state is still locked. So it receives the events in
	// stream order, before any reader of the state can observe them. It
	// must return quickly and must not call the Runner's methods. The event
	// and its strings are reused after OnApply returns, so it must copy
	// what it keeps.
	OnApply func(*events.Event)
	// StreamCheckInterval is the time between reads of the stream's last
	// sequence for the lag metrics; 0 means five seconds and a negative
	// value disables the checks. Without Metrics nothing is checked.
	StreamCheckInterval time.Duration
	// StatsInterval is the minimum time between counts of users, clients,
	// sessions and nodes for the metrics; 0 means five seconds and a
	// negative value disables the counts. A count that takes long delays
	// the next one further. Without Metrics nothing is counted.
	StatsInterval time.Duration
}

// Runner keeps a State up to date with the event stream. Its query methods
// are safe for concurrent use with Run.
type Runner struct {
	cfg Config
	log *slog.Logger

	mu      sync.RWMutex
	state   *State
	applied uint64
	// advanced is closed and replaced when applied grows while waiters > 0.
	advanced chan struct{}
	waiters  atomic.Int32

	// readyAt is the stream's last sequence at start; the Runner is ready
	// once it has applied that far.
	readyAt atomic.Uint64
	// started is closed once readyAt is set.
	started     chan struct{}
	startedOnce sync.Once
}

// NewRunner returns a Runner with an empty state. Call Run to fill it.
func NewRunner(cfg Config) *Runner {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Stream == "" {
		cfg.Stream = events.StreamName
	}
	if cfg.SnapshotBucket == "" {
		cfg.SnapshotBucket = "clientele-snapshots"
	}
	if cfg.SnapshotInterval == 0 {
		cfg.SnapshotInterval = time.Minute
	}
	if cfg.HeartbeatTimeout == 0 {
		cfg.HeartbeatTimeout = 2 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StreamCheckInterval == 0 {
		cfg.StreamCheckInterval = 5 * time.Second
	}
	if cfg.StatsInterval == 0 {
		cfg.StatsInterval = 5 * time.Second
	}
	return &Runner{cfg: cfg, log: cfg.Logger, state: NewState(), advanced: make(chan struct{}), started: make(chan struct{})}
}

// Run restores the newest valid snapshot, then consumes the stream from the
// sequence after it until ctx ends, writing snapshots every SnapshotInterval
// and once more on the way out. It returns nil when ctx ends and an error
// when the stream or the snapshot bucket cannot be reached at start.
func (r *Runner) Run(ctx context.Context) error {
	store, err := r.snapshotStore(ctx)
	if err != nil {
		return err
	}
	r.restore(ctx, store)

	stream, err := r.cfg.JS.Stream(ctx, r.cfg.Stream)
	if err != nil {
		return fmt.Errorf("projector: stream %s: %w", r.cfg.Stream, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("projector: stream %s info: %w", r.cfg.Stream, err)
	}
	r.discardSnapshotAhead(info.State.LastSeq)
	r.readyAt.Store(info.State.LastSeq)
	r.startedOnce.Do(func() { close(r.started) })
	r.log.Info("projector starting", "applied_seq", r.Applied(), "stream_last_seq", info.State.LastSeq)

	consumeErr := make(chan error, 1)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { consumeErr <- r.consume(cctx, stream) }()
	monitorDone := r.startMonitor(cctx, stream)

	err = r.snapshotLoop(ctx, store, consumeErr)
	cancel()
	<-monitorDone

	shutdownCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer done()
	if serr := r.writeSnapshot(shutdownCtx, store); serr != nil {
		r.log.Error("final snapshot failed", "error", serr)
	}
	return err
}

func (r *Runner) snapshotLoop(ctx context.Context, store jetstream.ObjectStore, consumeErr <-chan error) error {
	var tick <-chan time.Time
	if r.cfg.SnapshotInterval > 0 {
		t := time.NewTicker(r.cfg.SnapshotInterval)
		defer t.Stop()
		tick = t.C
	}
	last := r.Applied()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-consumeErr:
			return err
		case <-tick:
			if r.Applied() == last {
				continue
			}
			if err := r.writeSnapshot(ctx, store); err != nil {
				r.log.Error("snapshot failed", "error", err)
				continue
			}
			last = r.Applied()
		}
	}
}

func (r *Runner) reject(ctx context.Context, msg jetstream.Msg, seq uint64, err error) {
	reason := rejectReason(err)
	if m := r.cfg.Metrics; m != nil {
		m.rejected.WithLabelValues(reason).Inc()
	}
	r.log.Warn("event skipped", "seq", seq, "subject", msg.Subject(), "reason", reason, "error", err)
	if reason != ReasonMalformed && reason != ReasonInvalid {
		return
	}
	dl := nats.NewMsg(events.DeadLetterSubject)
	dl.Data = msg.Data()
	dl.Header.Set("Clientele-Seq", strconv.FormatUint(seq, 10))
	dl.Header.Set("Clientele-Subject", msg.Subject())
	dl.Header.Set("Clientele-Error", err.Error())
	dl.Header.Set(jetstream.MsgIDHeader, "deadletter-"+strconv.FormatUint(seq, 10))
	if _, perr := r.cfg.JS.PublishMsgAsync(dl); perr != nil {
		r.log.Error("dead-letter publish failed", "seq", seq, "error", perr)
		return
	}
	if m := r.cfg.Metrics; m != nil {
		m.deadLettered.Inc()
	}
}

func rejectReason(err error) string {
	switch {
	case errors.Is(err, events.ErrUnknownType):
		return ReasonUnknownType
	case errors.Is(err, events.ErrNewerVersion):
		return ReasonNewerVersion
	case errors.Is(err, events.ErrMalformed):
		return ReasonMalformed
	}
	return ReasonInvalid
}

// advance records seq, stored by JetStream at stored, as processed.
func (r *Runner) advance(seq uint64, stored time.Time) {
	r.mu.Lock()
	r.applied = seq
	r.wakeLocked()
	r.mu.Unlock()
	if m := r.cfg.Metrics; m != nil {
		m.progress.processed(seq, stored)
	}
}

// wakeLocked wakes the callers of WaitApplied after applied changed. The
// caller holds r.mu.
func (r *Runner) wakeLocked() {
	if r.waiters.Load() > 0 {
		close(r.advanced)
		r.advanced = make(chan struct{})
	}
}

// Applied returns the stream sequence of the last processed message.
func (r *Runner) Applied() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.applied
}

// WaitApplied blocks until the Runner has processed stream sequence seq or
// ctx ends, and returns ctx's error then.
func (r *Runner) WaitApplied(ctx context.Context, seq uint64) error {
	r.waiters.Add(1)
	defer r.waiters.Add(-1)
	for {
		r.mu.RLock()
		applied, ch := r.applied, r.advanced
		r.mu.RUnlock()
		if applied >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("projector: wait for sequence %d (applied %d): %w", seq, applied, ctx.Err())
		}
	}
}

// Ready returns nil once Run has applied every message that was in the
// stream when it started, and an error wrapping ErrNotReady before.
func (r *Runner) Ready() error {
	select {
	case <-r.started:
	default:
		return fmt.Errorf("%w: starting", ErrNotReady)
	}
	if target, applied := r.readyAt.Load(), r.Applied(); applied < target {
		return fmt.Errorf("%w: applied %d of %d", ErrNotReady, applied, target)
	}
	return nil
}

// WaitReady blocks until Ready returns nil or ctx ends. When ctx ends first,
// it returns an error wrapping ErrNotReady and ctx's error, with the
// sequences applied and to apply.
func (r *Runner) WaitReady(ctx context.Context) error {
	select {
	case <-r.started:
	case <-ctx.Done():
		return fmt.Errorf("%w: not started: %w", ErrNotReady, ctx.Err())
	}
	target := r.readyAt.Load()
	if err := r.WaitApplied(ctx, target); err != nil {
		return fmt.Errorf("%w: applied %d of %d: %w", ErrNotReady, r.Applied(), target, ctx.Err())
	}
	return nil
}

func (r *Runner) viewOptions() ViewOptions {
	return ViewOptions{Now: r.cfg.Now(), HeartbeatTimeout: max(r.cfg.HeartbeatTimeout, 0)}
}

// Clients returns the listed clients of user now, and the sequence applied.
func (r *Runner) Clients(user string) ([]ClientView, uint64) {
	opt := r.viewOptions()
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.state.Clients(user, opt), r.applied
}

// Resolve returns the clients of user that selector names now.
func (r *Runner) Resolve(user, selector string) []Target {
	opt := r.viewOptions()
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.state.Resolve(user, selector, opt)
}

// Users returns the number of accounts in the view.
func (r *Runner) Users() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.state.Users)
}

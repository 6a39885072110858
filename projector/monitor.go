package projector

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// startMonitor runs the stream checks and state counts of the metrics on
// their own goroutine until ctx ends, and returns a channel that is closed
// when that goroutine has returned. Without Metrics it starts nothing.
func (r *Runner) startMonitor(ctx context.Context, stream jetstream.Stream) <-chan struct{} {
	done := make(chan struct{})
	m := r.cfg.Metrics
	if m == nil {
		close(done)
		return done
	}
	m.progress.processed(r.Applied(), time.Time{})
	go func() {
		defer close(done)
		r.monitor(ctx, stream)
	}()
	return done
}

// statsSpacing is the minimum time between two counts of the state, as a
// multiple of the last count's duration, so that counting a large state
// takes at most about a twentieth of one core.
const statsSpacing = 19

func (r *Runner) monitor(ctx context.Context, stream jetstream.Stream) {
	var checkTick <-chan time.Time
	if r.cfg.StreamCheckInterval > 0 {
		t := time.NewTicker(r.cfg.StreamCheckInterval)
		defer t.Stop()
		checkTick = t.C
	}
	var statsTimer <-chan time.Time
	var timer *time.Timer
	if r.cfg.StatsInterval > 0 {
		timer = time.NewTimer(0)
		defer timer.Stop()
		statsTimer = timer.C
	}

	checks := streamCheckLog{runner: r}
	if checkTick != nil {
		checks.record(r.checkStream(ctx, stream))
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-checkTick:
			checks.record(r.checkStream(ctx, stream))
		case <-statsTimer:
			start := time.Now()
			r.Stats()
			timer.Reset(max(r.cfg.StatsInterval, statsSpacing*time.Since(start)))
		}
	}
}

// checkStream reads the stream's last sequence and, when the projector is
// behind it, the store time of the first message not yet processed, and
// passes both to the lag metrics.
func (r *Runner) checkStream(ctx context.Context, stream jetstream.Stream) error {
	info, err := stream.Info(ctx)
	if err != nil {
		return err
	}
	last, applied := info.State.LastSeq, r.Applied()
	var pending time.Time
	if last > applied {
		next := max(applied+1, info.State.FirstSeq)
		msg, err := stream.GetMsg(ctx, next)
		if err != nil {
			// The lag in seconds falls back to the store time of the last
			// processed message, which is at most as old.
			r.log.Debug("first pending message not read", "seq", next, "error", err)
		} else {
			pending = msg.Time
		}
	}
	r.cfg.Metrics.progress.streamChecked(last, pending)
	return nil
}

// streamCheckLog logs the first failed stream check and the recovery, with
// the count of failures, so that an outage logs two records, not one per
// check.
type streamCheckLog struct {
	runner   *Runner
	failures int
}

func (l *streamCheckLog) record(err error) {
	switch {
	case err != nil && l.failures == 0:
		l.runner.log.Warn("stream check for the lag metrics failed", "stream", l.runner.cfg.Stream, "error", err)
		l.failures++
	case err != nil:
		l.failures++
	case l.failures > 0:
		l.runner.log.Info("stream check for the lag metrics recovered", "stream", l.runner.cfg.Stream, "failures", l.failures)
		l.failures = 0
	}
}

// Stats counts the users, clients, connected sessions and live nodes of the
// view now, and sets the metrics to the counts when the Runner has them. It
// holds the read lock for at most statsBatch accounts at a time, so that
// with many accounts it slows the consumer only a little.
func (r *Runner) Stats() Stats {
	start := time.Now()
	opt := r.viewOptions()
	r.mu.RLock()
	st := r.state.Stats(opt, func() {
		r.mu.RUnlock()
		r.mu.RLock()
	})
	r.mu.RUnlock()
	if m := r.cfg.Metrics; m != nil {
		m.setStats(st, time.Since(start))
	}
	return st
}

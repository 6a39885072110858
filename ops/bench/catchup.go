package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
)

// snapshotBucket is the object store bucket of the run's projectors.
const snapshotBucket = "bench-snapshots"

// measureCatchUp reads the whole stream with a bare ordered consumer, then
// replays it with a projector Runner that has no snapshot, then reads it
// bare once more. The faster bare read is the baseline, so that a warmer
// store does not favour the projector. Stopping the Runner stores the
// snapshot that measureRestart loads. When catch-up is not selected, only
// the replay runs.
func (env *environment) measureCatchUp(ctx context.Context) (Result, error) {
	res := Result{
		Name: MeasureCatchUp, Title: "projector catch-up vs bare ordered consumer", Unit: "events/s",
		Target: Target{Figure: "ratio", Op: ">=", Value: 0.9},
	}
	stream, err := env.clientJS.Stream(ctx, events.StreamName)
	if err != nil {
		return res, err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return res, err
	}
	msgs := int(info.State.Msgs)
	measured := env.cfg.selected(MeasureCatchUp)

	var bareFirst, bareSecond, bareCPU time.Duration
	if measured {
		var err error
		if bareFirst, bareCPU, err = env.timedRead(ctx, "bare", msgs, false); err != nil {
			return res, err
		}
	}
	var replay, replayCPU, stored time.Duration
	err = labeled(ctx, "projector", func(ctx context.Context) (err error) {
		replay, replayCPU, stored, err = env.replay(ctx, msgs)
		return err
	})
	if err != nil {
		return res, err
	}
	var decodeOnly, decodeCPU time.Duration
	if measured {
		if bareSecond, _, err = env.timedRead(ctx, "bare", msgs, false); err != nil {
			return res, err
		}
		if decodeOnly, decodeCPU, err = env.timedRead(ctx, "decode", msgs, true); err != nil {
			return res, err
		}
	}
	res.Clientele = rate(msgs, replay)
	res.Baseline = max(rate(msgs, bareFirst), rate(msgs, bareSecond))
	res.Details = map[string]float64{
		"events":                       float64(msgs),
		"stream_bytes":                 float64(info.State.Bytes),
		"replay_seconds":               replay.Seconds(),
		"bare_first_events_per_s":      rate(msgs, bareFirst),
		"bare_second_events_per_s":     rate(msgs, bareSecond),
		"decode_only_events_per_s":     rate(msgs, decodeOnly),
		"stop_with_snapshot_seconds":   stored.Seconds(),
		"bare_cpu_us_per_event":        perEvent(bareCPU, msgs),
		"replay_cpu_us_per_event":      perEvent(replayCPU, msgs),
		"decode_only_cpu_us_per_event": perEvent(decodeCPU, msgs),
	}
	res.judge(false)
	return res, nil
}

// perEvent returns d per event in microseconds.
func perEvent(d time.Duration, events int) float64 {
	return float64(d) / float64(time.Microsecond) / float64(max(events, 1))
}

// timedRead runs readBare with the profile label step, and returns its
// time and the CPU time of the whole process meanwhile.
func (env *environment) timedRead(ctx context.Context, step string, n int, decode bool) (took, cpu time.Duration, err error) {
	start := processCPU()
	err = labeled(ctx, step, func(ctx context.Context) (err error) {
		took, err = env.readBare(ctx, n, decode)
		return err
	})
	return took, processCPU() - start, err
}

// readBare reads n messages of the event stream with a new ordered
// consumer on its own connection, with the pull size that the projector
// uses, and returns the time from creating the consumer to the last
// message. With decode, it also decodes and validates every message as the
// projector does, but folds nothing, which bounds what any fold could
// reach.
func (env *environment) readBare(ctx context.Context, n int, decode bool) (time.Duration, error) {
	step := "bare ordered consumer"
	if decode {
		step = "ordered consumer that only decodes"
	}
	env.cfg.Progress(Progress{Measurement: MeasureCatchUp, Step: step, Total: n})
	js, err := env.connectJS("bench bare consumer")
	if err != nil {
		return 0, err
	}

	start := time.Now()
	cons, err := js.OrderedConsumer(ctx, events.StreamName, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return 0, fmt.Errorf("bench: bare ordered consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1024))
	if err != nil {
		return 0, fmt.Errorf("bench: bare ordered consumer: %w", err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()

	bytes := 0
	var decoded events.Decoded
	for i := range n {
		msg, err := it.Next()
		if err != nil {
			return 0, fmt.Errorf("bench: %s after %d of %d messages: %w", step, i, n, err)
		}
		bytes += len(msg.Data())
		if decode {
			if err := decoded.Decode(msg.Data()); err != nil {
				return 0, fmt.Errorf("bench: %s: message %d: %w", step, i, err)
			}
		}
	}
	took := time.Since(start)
	if bytes == 0 && n > 0 {
		return 0, fmt.Errorf("bench: bare ordered consumer read %d empty messages", n)
	}
	return took, nil
}

// replay runs a projector without a snapshot until it has applied the n
// messages of the stream, then stops it, which stores a snapshot. It
// returns the time to catch up, the CPU time of the process until then,
// and the time to stop.
func (env *environment) replay(ctx context.Context, n int) (caughtUp, cpu, stopped time.Duration, err error) {
	env.cfg.Progress(Progress{Measurement: MeasureCatchUp, Step: "projector replay without snapshot", Total: n})
	cpuStart := processCPU()
	_, stop, took, err := env.startRunner(ctx, "bench projector replay")
	if err != nil {
		return 0, 0, 0, err
	}
	cpu = processCPU() - cpuStart
	start := time.Now()
	stop()
	return took, cpu, time.Since(start), nil
}

// startRunner starts a projector Runner on a connection of its own and
// blocks until it is ready. It returns the Runner, a function that stops
// it and waits for its final snapshot, and the time to become ready.
func (env *environment) startRunner(ctx context.Context, name string) (*projector.Runner, func(), time.Duration, error) {
	js, err := env.connectJS(name)
	if err != nil {
		return nil, nil, 0, err
	}
	r := projector.NewRunner(projector.Config{
		JS: js, Logger: env.cfg.Logger.With("component", "projector"), SnapshotBucket: snapshotBucket,
		SnapshotInterval: -1, HeartbeatTimeout: -1,
	})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- r.Run(runCtx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			env.cfg.Logger.Error("projector stopped with an error", "error", err)
		}
	}
	took, err := waitReady(ctx, r, start, done)
	if err != nil {
		cancel()
		return nil, nil, 0, err
	}
	return r, stop, took, nil
}

// measureRestart starts a projector from the snapshot that the replay
// stored and compares its time to become ready with the replay's. The
// restarted Runner keeps running for the list and revoke measurements.
func (env *environment) measureRestart(ctx context.Context, catchUp Result) (Result, error) {
	res := Result{
		Name: MeasureRestart, Title: "restart from snapshot vs full replay", Unit: "s",
		Target: Target{Figure: "ratio", Op: ">=", Value: 10},
	}
	env.cfg.Progress(Progress{Measurement: MeasureRestart, Step: "projector restart from snapshot"})
	r, stop, took, err := env.startRunner(ctx, "bench projector")
	if err != nil {
		return res, err
	}
	env.runner, env.stopRunner = r, stop
	res.Clientele = took.Seconds()
	res.Baseline = catchUp.Details["replay_seconds"]
	res.Details = map[string]float64{"events": catchUp.Details["events"], "users": float64(r.Users())}
	if size, err := env.snapshotSize(ctx); err == nil {
		res.Details["snapshot_bytes"] = float64(size)
	}
	res.judge(true)
	return res, nil
}

// snapshotSize returns the size of the stored snapshot.
func (env *environment) snapshotSize(ctx context.Context) (uint64, error) {
	store, err := env.clientJS.ObjectStore(ctx, snapshotBucket)
	if err != nil {
		return 0, err
	}
	info, err := store.GetInfo(ctx, "state")
	if err != nil {
		return 0, err
	}
	return info.Size, nil
}

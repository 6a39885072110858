package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/simulate"
)

// publishRound bounds the events of one publish round: enough that a
// round takes far longer than its start and end, few enough that rounds
// of the publisher and of the baseline alternate many times.
const publishRound = 50_000

// measurePublish fills the stream with cfg.Events simulated events in
// rounds that alternate between bare asynchronous JetStream publishes of
// encoded payloads and events.Publisher.PublishBatch of event values, so
// that both write to a stream of the same size. Each round has events of
// its own, because the stream stores an event id once.
func (env *environment) measurePublish(ctx context.Context) (Result, error) {
	res := Result{
		Name: MeasurePublish, Title: "publisher (PublishBatch) vs bare async publish", Unit: "events/s",
		Target: Target{Figure: "ratio", Op: ">=", Value: 0.9},
	}
	gen, err := simulate.NewGenerator(simulate.Config{
		Users: env.cfg.Users, Events: env.cfg.Events, Seed: env.cfg.Seed,
		Start: time.Now().UTC().Add(-6 * time.Hour),
	})
	if err != nil {
		return res, err
	}
	js, err := env.connectJS("bench publisher")
	if err != nil {
		return res, err
	}
	pub := events.NewPublisher(js, events.PublisherOptions{})

	round := min(publishRound, max(env.cfg.Events/20, 1000))
	var bare, batch struct {
		n, bytes int
		took     time.Duration
		rates    []float64
	}
	for done, i := 0, 0; done < env.cfg.Events; i++ {
		env.cfg.Progress(Progress{Measurement: MeasurePublish, Step: "alternating rounds", Done: done, Total: env.cfg.Events})
		evs, err := generate(gen, min(round, env.cfg.Events-done))
		if err != nil {
			return res, err
		}
		done += len(evs)
		if i%2 == 0 {
			msgs, size, err := encodeAll(evs)
			if err != nil {
				return res, err
			}
			start := time.Now()
			if err := labeled(ctx, "bare", func(ctx context.Context) error { return publishBare(ctx, js, msgs) }); err != nil {
				return res, err
			}
			took := time.Since(start)
			bare.took += took
			bare.n, bare.bytes = bare.n+len(msgs), bare.bytes+size
			bare.rates = append(bare.rates, rate(len(msgs), took))
			continue
		}
		start := time.Now()
		var results []events.Result
		err = labeled(ctx, "publisher", func(ctx context.Context) (err error) {
			results, err = pub.PublishBatch(ctx, evs)
			return err
		})
		took := time.Since(start)
		batch.took += took
		batch.rates = append(batch.rates, rate(len(evs), took))
		if err != nil {
			return res, err
		}
		for k, r := range results {
			if r.Err != nil {
				return res, fmt.Errorf("bench: publish event %s: %w", evs[k].ID, r.Err)
			}
		}
		batch.n += len(evs)
	}
	paired := pairedRatios(batch.rates, bare.rates)
	// The medians of the rounds' rates leave out the rounds that a pause of
	// the file store or of another program on the machine slowed down.
	res.Clientele, res.Baseline = median(batch.rates), median(bare.rates)
	res.Details = map[string]float64{
		"round_ratio_min":    paired[0],
		"round_ratio_median": median(paired),
		"round_ratio_max":    paired[len(paired)-1],
		"publisher_events":   float64(batch.n), "bare_events": float64(bare.n),
		"publisher_overall_events_per_s": rate(batch.n, batch.took),
		"bare_overall_events_per_s":      rate(bare.n, bare.took),
		"bare_mean_payload_bytes":        float64(bare.bytes) / float64(max(bare.n, 1)),
		"round_events":                   float64(round),
	}
	res.judge(false)
	return res, nil
}

// pairedRatios returns the rate of each round of the publisher divided by
// that of the bare round just before it, sorted. It returns a single 0 for
// no pair, so that callers may index it.
func pairedRatios(batch, bare []float64) []float64 {
	var out []float64
	for i := range min(len(batch), len(bare)) {
		if bare[i] > 0 {
			out = append(out, batch[i]/bare[i])
		}
	}
	if len(out) == 0 {
		return []float64{0}
	}
	slices.Sort(out)
	return out
}

// generate returns the next n events of gen.
func generate(gen *simulate.Generator, n int) ([]*events.Event, error) {
	evs := make([]*events.Event, n)
	for i := range evs {
		e, err := gen.Next()
		if err != nil {
			return nil, err
		}
		evs[i] = e
	}
	return evs, nil
}

// encodeAll returns the messages that events.Publisher would send for evs,
// and the sum of their payload sizes.
func encodeAll(evs []*events.Event) ([]*nats.Msg, int, error) {
	msgs := make([]*nats.Msg, len(evs))
	size := 0
	for i, e := range evs {
		data, err := events.Encode(e)
		if err != nil {
			return nil, 0, fmt.Errorf("bench: encode %s: %w", e.ID, err)
		}
		msgs[i] = &nats.Msg{Subject: events.Subject(e), Data: data, Header: nats.Header{jetstream.MsgIDHeader: []string{e.ID}}}
		size += len(data)
	}
	return msgs, size, nil
}

// stallWait bounds the wait of a bare publish for room in the window of
// pending acknowledgements. The default of nats.go, 200ms, is shorter than
// the pauses of a file store that takes millions of events.
const stallWait = time.Minute

// publishBare publishes msgs asynchronously within the JetStream context's
// window of pending acknowledgements, and waits for every acknowledgement.
func publishBare(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg) error {
	futures := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		f, err := js.PublishMsgAsync(m, jetstream.WithStallWait(stallWait))
		if err != nil {
			return fmt.Errorf("bench: bare publish: %w", err)
		}
		futures[i] = f
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("bench: bare publish: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

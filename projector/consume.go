package projector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/clientele-xmpp/clientele/events"
)

// Sizes of the pipeline between the stream and the state.
const (
	// decodeAhead is the number of decoded messages that may wait for the
	// apply loop.
	decodeAhead = 1024
	// applyBatch is the largest number of events applied under one hold of
	// the state lock, which bounds the wait of a query to some 100µs.
	applyBatch = 128
	// consumeHeartbeat is the idle heartbeat of the ordered consumer. The
	// client recreates the consumer after two missed heartbeats, as after
	// the server that held it died, so the projector resumes within about
	// two of them. The nats.go default of 5 seconds stalled replicas for
	// 10 to 20 seconds when a server of a three-node cluster was killed.
	consumeHeartbeat = time.Second
)

// consumed is one message of the stream, decoded.
type consumed struct {
	msg    jetstream.Msg
	seq    uint64
	stored time.Time
	event  *events.Event
	// err is the reason the event cannot be applied.
	err error
}

// consume reads the stream with an ordered consumer from the sequence after
// the applied one until ctx ends. One goroutine reads and decodes the
// messages ahead of this one, which applies them in stream order.
func (r *Runner) consume(ctx context.Context, stream jetstream.Stream) error {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if seq := r.Applied(); seq > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = seq + 1
	}
	cons, err := stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("projector: ordered consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1024), jetstream.PullHeartbeat(consumeHeartbeat))
	if err != nil {
		return fmt.Errorf("projector: consume: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()

	decoded := make(chan consumed, decodeAhead)
	go r.read(ctx, it, decoded)
	r.applyAll(ctx, decoded)
	return nil
}

// read decodes the messages of it into out until it stops, then closes
// out.
func (r *Runner) read(ctx context.Context, it jetstream.MessagesContext, out chan<- consumed) {
	defer close(out)
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			r.log.Warn("consumer error", "error", err)
			continue
		}
		meta, err := msg.Metadata()
		if err != nil {
			r.log.Warn("message without metadata skipped", "subject", msg.Subject(), "error", err)
			continue
		}
		c := consumed{msg: msg, seq: meta.Sequence.Stream, stored: meta.Timestamp}
		c.event, c.err = events.Decode(msg.Data())
		out <- c
	}
}

// applyAll applies the messages of in until it is closed. It takes the
// messages that are waiting, up to applyBatch, and applies them under one
// hold of the lock.
func (r *Runner) applyAll(ctx context.Context, in <-chan consumed) {
	counters := make(map[events.Type]prometheus.Counter)
	batch := make([]consumed, 0, applyBatch)
	for c := range in {
		batch = append(batch[:0], c)
	take:
		for len(batch) < applyBatch {
			select {
			case c, ok := <-in:
				if !ok {
					break take
				}
				batch = append(batch, c)
			default:
				break take
			}
		}
		r.applyBatch(ctx, batch, counters)
	}
}

// applyBatch applies the events of batch in order. A message that cannot be
// applied is counted, logged and, when malformed or invalid, copied to the
// dead-letter subject; it never stops the projector. counters caches the
// applied counter of each event type.
func (r *Runner) applyBatch(ctx context.Context, batch []consumed, counters map[events.Type]prometheus.Counter) {
	r.mu.Lock()
	for i := range batch {
		c := &batch[i]
		if c.err != nil {
			continue
		}
		c.err = r.state.Apply(c.event)
		if c.err == nil && r.cfg.OnApply != nil {
			r.cfg.OnApply(c.event)
		}
	}
	r.mu.Unlock()

	m := r.cfg.Metrics
	var newest time.Time
	for i := range batch {
		c := &batch[i]
		if c.err != nil {
			r.reject(ctx, c.msg, c.seq, c.err)
			continue
		}
		if m == nil {
			continue
		}
		counter, ok := counters[c.event.Type]
		if !ok {
			counter = m.applied.WithLabelValues(string(c.event.Type))
			counters[c.event.Type] = counter
		}
		counter.Inc()
		newest = c.event.Time
	}
	if m != nil && !newest.IsZero() {
		m.lastEvent.Set(float64(newest.UnixNano()) / 1e9)
	}
	last := batch[len(batch)-1]
	r.advance(last.seq, last.stored)
}

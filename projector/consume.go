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
	// applyBatch is the largest number of events applied under one hold of
	// the state lock, which bounds the wait of a query to some 100µs.
	applyBatch = 128
	// decodeBatches is the number of batches of decoded messages, so
	// decodeBatches*applyBatch messages may wait for the apply loop.
	decodeBatches = 8
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

// batch is a run of consecutive messages of the stream, decoded into
// buffers that the reader reuses once the batch has been applied. The
// strings of the events point into the messages' data.
type batch struct {
	items   []consumed
	decoded [applyBatch]events.Decoded
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
	it, err := cons.Messages(jetstream.PullMaxMessages(decodeBatches*applyBatch), jetstream.PullHeartbeat(consumeHeartbeat))
	if err != nil {
		return fmt.Errorf("projector: consume: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()

	full := make(chan *batch, decodeBatches)
	free := make(chan *batch, decodeBatches)
	for range decodeBatches {
		free <- &batch{items: make([]consumed, 0, applyBatch)}
	}
	go r.read(ctx, it, full, free)
	r.applyAll(ctx, full, free)
	return nil
}

// read decodes the messages of it into batches taken from free and sends
// them to full until it stops, then closes full. A batch is sent when it is
// full or when the consumer reports no more messages pending, so a live
// event is applied without waiting for a later one.
func (r *Runner) read(ctx context.Context, it jetstream.MessagesContext, full chan<- *batch, free <-chan *batch) {
	defer close(full)
	b := <-free
	send := func() bool {
		if len(b.items) == 0 {
			return true
		}
		full <- b
		select {
		case b = <-free:
			b.items = b.items[:0]
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		msg, err := it.Next()
		if err != nil {
			if !send() || ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			r.log.Warn("consumer error", "error", err)
			continue
		}
		pos, err := positionOf(msg)
		if err != nil {
			r.log.Warn("message without metadata skipped", "subject", msg.Subject(), "error", err)
			continue
		}
		d := &b.decoded[len(b.items)]
		err = d.Decode(msg.Data())
		b.items = append(b.items, consumed{msg: msg, seq: pos.seq, stored: pos.stored, event: &d.Event, err: err})
		// NOTE: when the messages that pending counted are deleted before
		// delivery, as by a purge of the stream's tail, the batch waits
		// for the next message that arrives.
		if len(b.items) == applyBatch || pos.pending == 0 {
			if !send() {
				return
			}
		}
	}
}

// applyAll applies the batches of full in order until full is closed, and
// returns each batch to free.
func (r *Runner) applyAll(ctx context.Context, full <-chan *batch, free chan<- *batch) {
	counters := make(map[events.Type]prometheus.Counter)
	for b := range full {
		r.applyBatch(ctx, b.items, counters)
		free <- b
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

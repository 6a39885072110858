package query

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// scanInactiveThreshold is the time after which the server deletes a scan's
// consumer that its reader abandoned without deleting it.
const scanInactiveThreshold = time.Minute

// scanRange selects the messages that scanStream reads.
type scanRange struct {
	// filters are the subject filters; empty means every subject.
	filters []string
	// start is the first sequence to read; 0 reads from the first message.
	start uint64
	// startTime, when set, starts at the first message that JetStream
	// stored at or after it, and takes precedence over start.
	startTime time.Time
	// stop is the last sequence to read; 0 means the stream's last sequence
	// when the scan begins.
	stop uint64
}

// scanStream calls fn with each message of stream in r, in stream order. It
// returns nil after the message at r.stop or the last matching message
// before it, or as soon as fn returns false, and an error wrapping
// ErrTimeout when ctx ends;
// it never waits for messages stored after the scan began. Messages are read
// with an ordered consumer that scanStream deletes on the way out.
func scanStream(ctx context.Context, stream jetstream.Stream, r scanRange, fn func(msg jetstream.Msg, meta *jetstream.MsgMetadata) bool) error {
	if r.stop == 0 {
		info, err := stream.Info(ctx)
		if err != nil {
			return fmt.Errorf("%w: stream info: %v", ErrUnavailable, err)
		}
		r.stop = info.State.LastSeq
	}
	if r.stop == 0 || r.start > r.stop {
		return nil
	}

	cons, err := stream.OrderedConsumer(ctx, orderedConfig(r))
	if err != nil {
		return fmt.Errorf("%w: ordered consumer: %v", ErrUnavailable, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(512))
	if err != nil {
		return fmt.Errorf("%w: read stream: %v", ErrUnavailable, err)
	}
	defer deleteConsumer(stream, cons)
	defer it.Stop()
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		return nil
	}
	stopOnCancel := context.AfterFunc(ctx, it.Stop)
	defer stopOnCancel()

	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%w: read stream: %v", ErrTimeout, ctx.Err())
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("%w: read stream: %v", ErrUnavailable, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			continue
		}
		if meta.Sequence.Stream > r.stop {
			return nil
		}
		if !fn(msg, meta) || meta.NumPending == 0 || meta.Sequence.Stream == r.stop {
			return nil
		}
	}
}

func orderedConfig(r scanRange) jetstream.OrderedConsumerConfig {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    r.filters,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: scanInactiveThreshold,
	}
	switch {
	case !r.startTime.IsZero():
		start := r.startTime
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	case r.start > 1:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, r.start
	}
	return cfg
}

// deleteConsumer deletes the server-side consumer of a finished scan, so
// that scans do not pile up until their inactive threshold. A failure only
// leaves the consumer to that threshold.
func deleteConsumer(stream jetstream.Stream, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = stream.DeleteConsumer(ctx, info.Name)
}

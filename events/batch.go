package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Result is the outcome of one event of a batch: the stream sequence on
// success, or the error that rejected or failed it.
type Result struct {
	Seq uint64
	// Duplicate is true when the stream already held an event with this id,
	// which Seq then names.
	Duplicate bool
	Err       error
}

// PublishBatch publishes events asynchronously, at most MaxPending at a time,
// and blocks until every one was acknowledged, rejected by validation or
// failed after its retries. Results are in the order of events. It returns a
// non-nil error only when ctx ended; results then hold ctx's error for the
// events whose outcome is unknown.
func (p *Publisher) PublishBatch(ctx context.Context, evs []*Event) ([]Result, error) {
	results := make([]Result, len(evs))
	msgs := make([]*nats.Msg, len(evs))
	for i, e := range evs {
		msgs[i], results[i].Err = p.message(e)
	}
	pending := make([]int, 0, len(evs))
	for i := range evs {
		if results[i].Err == nil {
			pending = append(pending, i)
		}
	}
	for try := 0; len(pending) > 0; try++ {
		failed, err := p.publishRound(ctx, msgs, pending, results)
		if err != nil {
			return results, err
		}
		if try >= p.opts.Retries {
			break
		}
		pending = failed
	}
	return results, nil
}

// publishRound publishes the messages at the indexes in pending, in windows
// of MaxPending, and returns the indexes whose publish failed and may be
// retried.
func (p *Publisher) publishRound(ctx context.Context, msgs []*nats.Msg, pending []int, results []Result) ([]int, error) {
	var retry []int
	for start := 0; start < len(pending); start += p.opts.MaxPending {
		window := pending[start:min(start+p.opts.MaxPending, len(pending))]
		futures := make([]jetstream.PubAckFuture, len(window))
		for k, i := range window {
			f, err := p.js.PublishMsgAsync(msgs[i])
			if err != nil {
				results[i].Err = fmt.Errorf("%w: %s: %v", ErrPublish, msgs[i].Header.Get(jetstream.MsgIDHeader), err)
				retry = append(retry, i)
				continue
			}
			futures[k] = f
		}
		for k, i := range window {
			if futures[k] == nil {
				continue
			}
			select {
			case ack := <-futures[k].Ok():
				results[i] = Result{Seq: ack.Sequence, Duplicate: ack.Duplicate}
			case err := <-futures[k].Err():
				results[i].Err = fmt.Errorf("%w: %s: %v", ErrPublish, msgs[i].Header.Get(jetstream.MsgIDHeader), err)
				if retryable(err) {
					retry = append(retry, i)
				}
			case <-ctx.Done():
				for _, j := range pending[start:] {
					if results[j].Seq == 0 && results[j].Err == nil {
						results[j].Err = ctx.Err()
					}
				}
				return nil, ctx.Err()
			}
		}
	}
	return retry, nil
}

func jsonMarshal(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, errors.Join(ErrInvalid, err)
	}
	return data, nil
}

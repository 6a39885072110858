package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
// failed after its retries. A window of publishes gives up on the events
// still unacknowledged once no acknowledgement arrived for AckTimeout, and
// rounds of retries are apart by the backoff, so an unreachable NATS ends
// the call with errors instead of blocking it. Results are in the order of
// events. It returns a non-nil error only when ctx ended; results then hold
// ctx's error for the events whose outcome is unknown.
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
	wait := p.opts.Backoff
	for try := 0; len(pending) > 0; try++ {
		failed, err := p.publishRound(ctx, msgs, pending, results)
		if err != nil {
			return results, err
		}
		if try >= p.opts.Retries || len(failed) == 0 {
			break
		}
		pending = failed
		select {
		case <-ctx.Done():
			for _, i := range pending {
				results[i].Err = fmt.Errorf("%w: %s: %v", ErrPublish, msgs[i].Header.Get(jetstream.MsgIDHeader), ctx.Err())
			}
			return results, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
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
		acks := newAckWaiter(p.opts.AckTimeout)
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
			ack, err := acks.wait(ctx, futures[k])
			switch {
			case err == nil:
				results[i] = Result{Seq: ack.Sequence, Duplicate: ack.Duplicate}
			case ctx.Err() != nil:
				acks.stop()
				for _, j := range pending[start:] {
					if results[j].Seq == 0 && results[j].Err == nil {
						results[j].Err = ctx.Err()
					}
				}
				return nil, ctx.Err()
			default:
				results[i].Err = fmt.Errorf("%w: %s: %v", ErrPublish, msgs[i].Header.Get(jetstream.MsgIDHeader), err)
				if retryable(err) {
					retry = append(retry, i)
				}
			}
		}
		acks.stop()
	}
	return retry, nil
}

// errNoAck reports an asynchronous publish whose acknowledgement did not
// arrive in time. The event may still have been stored, so it is retried
// with the same Nats-Msg-Id.
var errNoAck = errors.New("acknowledgement timed out")

// ackWaiter waits for the acknowledgements of one window of asynchronous
// publishes. It gives up once none arrived for its timeout, and from then
// on takes only the outcomes that are already there.
type ackWaiter struct {
	timeout time.Duration
	timer   *time.Timer
	expired bool
}

func newAckWaiter(timeout time.Duration) *ackWaiter {
	return &ackWaiter{timeout: timeout, timer: time.NewTimer(timeout)}
}

// wait returns the outcome of f, errNoAck when the timeout passed, or ctx's
// error. Every outcome restarts the timeout. Once the timeout passed, wait
// returns at once, with the outcome only when it is already there.
func (w *ackWaiter) wait(ctx context.Context, f jetstream.PubAckFuture) (*jetstream.PubAck, error) {
	if w.expired {
		select {
		case ack := <-f.Ok():
			return ack, nil
		case err := <-f.Err():
			return nil, err
		default:
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w after %s", errNoAck, w.timeout)
	}
	select {
	case ack := <-f.Ok():
		w.restart()
		return ack, nil
	case err := <-f.Err():
		w.restart()
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-w.timer.C:
		w.expired = true
		return nil, fmt.Errorf("%w after %s", errNoAck, w.timeout)
	}
}

func (w *ackWaiter) restart() {
	if !w.expired {
		w.timer.Reset(w.timeout)
	}
}

func (w *ackWaiter) stop() {
	w.timer.Stop()
}

func jsonMarshal(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, errors.Join(ErrInvalid, err)
	}
	return data, nil
}

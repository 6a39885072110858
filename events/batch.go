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
// failed after its retries. A round of publishes gives up on the events
// still unacknowledged once no acknowledgement arrived for AckTimeout, and
// rounds of retries are apart by the backoff, so an unreachable NATS ends
// the call with errors instead of blocking it. Results are in the order of
// events. It returns a non-nil error only when ctx ended; results then hold
// ctx's error for the events whose outcome is unknown.
func (p *Publisher) PublishBatch(ctx context.Context, evs []*Event) ([]Result, error) {
	results := make([]Result, len(evs))
	b := &outgoing{events: evs, msgs: make([]*nats.Msg, len(evs)), results: results}
	pending := make([]int, len(evs))
	for i := range pending {
		pending[i] = i
	}
	wait := p.opts.Backoff
	for try := 0; len(pending) > 0; try++ {
		failed, err := p.publishRound(ctx, b, pending)
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
				results[i].Err = fmt.Errorf("%w: %s: %v", ErrPublish, evs[i].ID, ctx.Err())
			}
			return results, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
	return results, nil
}

// outgoing is a batch of events with their messages, built as they are
// first sent, and their results.
type outgoing struct {
	events  []*Event
	msgs    []*nats.Msg
	results []Result
}

// message returns the message of event i, building it on first use. It
// records the event's error and returns nil when the event is invalid.
func (b *outgoing) message(p *Publisher, i int) *nats.Msg {
	if b.msgs[i] != nil {
		return b.msgs[i]
	}
	msg, err := p.message(b.events[i])
	if err != nil {
		b.results[i].Err = err
		return nil
	}
	b.msgs[i] = msg
	return msg
}

// publishRound publishes the events at the indexes in pending with at
// most MaxPending awaiting acknowledgement: each new publish waits only for
// the oldest one outstanding, so the connection never idles between
// windows. Each message is validated and encoded right before it is sent,
// while the server stores those before it. publishRound returns the
// indexes whose publish failed and may be retried. Once no acknowledgement
// arrived for AckTimeout, it publishes nothing more in this round and
// returns the rest for a retry.
func (p *Publisher) publishRound(ctx context.Context, b *outgoing, pending []int) ([]int, error) {
	r := &round{p: p, batch: b, acks: newAckWaiter(p.opts.AckTimeout)}
	defer r.acks.stop()
	for n, i := range pending {
		if len(r.inflight) >= p.opts.MaxPending {
			if err := r.settle(ctx); err != nil {
				r.abort(pending[n:], err)
				return nil, err
			}
		}
		if r.acks.expired {
			for _, j := range pending[n:] {
				r.fail(j, fmt.Errorf("%w after %s", errNoAck, p.opts.AckTimeout), true)
			}
			break
		}
		msg := b.message(p, i)
		if msg == nil {
			continue
		}
		f, err := p.js.PublishMsgAsync(msg)
		if err != nil {
			r.fail(i, err, true)
			continue
		}
		r.inflight = append(r.inflight, inflight{index: i, future: f})
	}
	for len(r.inflight) > 0 {
		if err := r.settle(ctx); err != nil {
			r.abort(nil, err)
			return nil, err
		}
	}
	return r.retry, nil
}

// inflight is one asynchronous publish awaiting its acknowledgement.
type inflight struct {
	index  int
	future jetstream.PubAckFuture
}

// round is the state of one publishRound.
type round struct {
	p        *Publisher
	batch    *outgoing
	acks     *ackWaiter
	inflight []inflight
	retry    []int
}

// settle waits for the oldest outstanding publish and records its outcome.
// It returns only ctx's error.
func (r *round) settle(ctx context.Context) error {
	in := r.inflight[0]
	r.inflight = r.inflight[1:]
	ack, err := r.acks.wait(ctx, in.future)
	switch {
	case err == nil:
		r.batch.results[in.index] = Result{Seq: ack.Sequence, Duplicate: ack.Duplicate}
	case ctx.Err() != nil:
		r.inflight = append([]inflight{in}, r.inflight...)
		return ctx.Err()
	default:
		r.fail(in.index, err, retryable(err))
	}
	return nil
}

func (r *round) fail(i int, err error, retry bool) {
	r.batch.results[i].Err = fmt.Errorf("%w: %s: %v", ErrPublish, r.batch.events[i].ID, err)
	if retry {
		r.retry = append(r.retry, i)
	}
}

// abort records err for the outstanding publishes and for the indexes in
// unsent, whose outcome is unknown once ctx ended.
func (r *round) abort(unsent []int, err error) {
	results := r.batch.results
	for _, in := range r.inflight {
		results[in.index].Err = err
	}
	for _, i := range unsent {
		if results[i].Seq == 0 && results[i].Err == nil {
			results[i].Err = err
		}
	}
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

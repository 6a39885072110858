package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of PublisherOptions.
const (
	// DefaultRetries with the default backoff waits about 11 seconds in
	// all. That outlasts the election of a new stream leader after the
	// leader's server died, for which nats-server v2.15.3 waits a random
	// 4 to 9 seconds (minElectionTimeout and maxElectionTimeout in
	// server/raft.go).
	DefaultRetries    = 10
	DefaultAckTimeout = 5 * time.Second
)

// PublisherOptions sets retries and flow control of a Publisher. The zero
// value retries DefaultRetries times starting at 50ms and allows 4096
// pending asynchronous publishes.
type PublisherOptions struct {
	// Retries is how often a failed publish is tried again; 0 means
	// DefaultRetries and a negative value disables retries.
	Retries int
	// Backoff is the first wait between tries; it doubles on each retry up to
	// two seconds. 0 means 50ms.
	Backoff time.Duration
	// MaxPending bounds the asynchronous publishes awaiting acknowledgement;
	// 0 means 4096.
	MaxPending int
	// AckTimeout bounds the wait for the acknowledgement of one try; 0 means
	// five seconds. A try that times out, as while NATS is unreachable, is
	// retried like any failed publish.
	AckTimeout time.Duration
}

// Publisher appends events to the event stream. Every event is validated,
// published with its id as Nats-Msg-Id so that retries inside the stream's
// duplicate window store it once, and counted as published only after
// JetStream acknowledged it. A Publisher is safe for concurrent use.
type Publisher struct {
	js   jetstream.JetStream
	opts PublisherOptions
}

// NewPublisher returns a Publisher over js.
func NewPublisher(js jetstream.JetStream, opts PublisherOptions) *Publisher {
	if opts.Retries == 0 {
		opts.Retries = DefaultRetries
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 50 * time.Millisecond
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 4096
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = DefaultAckTimeout
	}
	return &Publisher{js: js, opts: opts}
}

// Publish validates e, publishes it and blocks until JetStream acknowledged
// it, the retries are used up or ctx ends. Each try waits at most
// AckTimeout, and tries are apart by the backoff. It returns the stream sequence of
// the stored event, which for a duplicate is the sequence of the original.
// A validation error is returned at once, wrapping ErrInvalid or a related
// sentinel; a publish error wraps ErrPublish.
func (p *Publisher) Publish(ctx context.Context, e *Event) (uint64, error) {
	msg, err := p.message(e)
	if err != nil {
		return 0, err
	}
	return p.publishMsg(ctx, msg)
}

// PublishCommand publishes c on the command stream of its user and blocks
// until JetStream acknowledged it, retrying like Publish.
func (p *Publisher) PublishCommand(ctx context.Context, c *Command) (uint64, error) {
	data, err := jsonMarshal(c)
	if err != nil {
		return 0, err
	}
	msg := nats.NewMsg(CommandSubject(c.User))
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, c.ID)
	return p.publishMsg(ctx, msg)
}

func (p *Publisher) message(e *Event) (*nats.Msg, error) {
	if err := Validate(e); err != nil {
		return nil, err
	}
	data, err := Encode(e)
	if err != nil {
		return nil, fmt.Errorf("%w: encode %s: %v", ErrInvalid, e.ID, err)
	}
	// Every field may be within MaxFieldLen and the JSON still too large,
	// because escapes such as \u003c take six bytes per input byte. The
	// projector would reject such an event, so it is not published.
	if len(data) > MaxEventSize {
		return nil, fmt.Errorf("%w: event %s encodes to %d bytes, over the limit of %d bytes: shorten its text fields", ErrInvalid, e.ID, len(data), MaxEventSize)
	}
	msg := nats.NewMsg(Subject(e))
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, e.ID)
	return msg, nil
}

func (p *Publisher) publishMsg(ctx context.Context, msg *nats.Msg) (uint64, error) {
	wait := p.opts.Backoff
	for try := 0; ; try++ {
		tryCtx, cancel := context.WithTimeout(ctx, p.opts.AckTimeout)
		ack, err := p.js.PublishMsg(tryCtx, msg)
		cancel()
		if err == nil {
			return ack.Sequence, nil
		}
		if try >= p.opts.Retries || ctx.Err() != nil || !retryable(err) {
			return 0, fmt.Errorf("%w: %s %s after %d tries: %v%s", ErrPublish, msg.Subject, msg.Header.Get(jetstream.MsgIDHeader), try+1, err, publishHint(err))
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%w: %s: %v", ErrPublish, msg.Subject, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// publishHint returns advice for errors that a retry does not fix.
func publishHint(err error) string {
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		return "; no stream stores this subject: start `clientele serve`, which creates the streams"
	}
	return ""
}

// retryable reports whether a publish error may succeed on a later try.
// Errors of the stream's own rules, such as a wrong expected sequence, do not.
func retryable(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == 0 || apiErr.Code >= 500 || apiErr.Code == 503
	}
	return true
}

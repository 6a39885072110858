package simulate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
)

// commandAckWait is how long the server waits for the acknowledgement of a
// delivered command before it delivers the command again.
const commandAckWait = 30 * time.Second

// consumerInactiveThreshold is how long the server keeps a simulator's
// durable consumer after the simulator stopped.
const consumerInactiveThreshold = time.Hour

// command is a delivered command message and the node whose consumer
// received it.
type command struct {
	node string
	msg  jetstream.Msg
}

// subscription is the set of running command consumers of a run.
type subscription struct {
	done     chan struct{}
	consumes []jetstream.ConsumeContext
}

// stop ends the delivery of commands. Commands delivered but not yet
// carried out are not acknowledged, so the server delivers them again to a
// later run with the same seed.
func (s *subscription) stop() {
	close(s.done)
	for _, cc := range s.consumes {
		cc.Stop()
	}
}

// subscribe creates the durable command consumer of every node and starts
// delivering its messages to r.commands.
func (r *runner) subscribe(ctx context.Context) (*subscription, error) {
	sub := &subscription{done: make(chan struct{})}
	for _, node := range r.gen.Nodes() {
		cons, err := r.createConsumer(ctx, node)
		if err != nil {
			sub.stop()
			return nil, fmt.Errorf("simulate: create command consumer of %s on stream %s: %w", node, events.CommandStreamName, err)
		}
		cc, err := cons.Consume(r.deliver(node, sub.done), jetstream.ConsumeErrHandler(
			func(_ jetstream.ConsumeContext, err error) {
				r.cfg.Logger.Warn("command consumer failed", "node", node, "error", err)
			}))
		if err != nil {
			sub.stop()
			return nil, fmt.Errorf("simulate: consume commands of %s: %w", node, err)
		}
		sub.consumes = append(sub.consumes, cc)
	}
	return sub, nil
}

// consumerAttempts bounds the tries to create one command consumer. A
// JetStream cluster that is electing leaders or creating the consumer's
// replicas may reply after the request timed out, and a later try then
// finds the consumer in place.
const consumerAttempts = 8

// createConsumer creates or updates the command consumer of node, trying
// again with backoff after a timeout or while no server responds.
func (r *runner) createConsumer(ctx context.Context, node string) (jetstream.Consumer, error) {
	wait := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		cons, err := r.js.CreateOrUpdateConsumer(ctx, events.CommandStreamName, r.consumerConfig(node))
		if err == nil || attempt == consumerAttempts || ctx.Err() != nil || !transient(err) {
			return cons, err
		}
		r.cfg.Logger.Warn("creating the command consumer failed, trying again", "node", node, "attempt", attempt, "wait", wait, "error", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 4*time.Second)
	}
}

// transient reports whether a JetStream API request may succeed when tried
// again: it timed out, found no responder, or met a leader change.
func transient(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code >= 500
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders)
}

func (r *runner) deliver(node string, done <-chan struct{}) jetstream.MessageHandler {
	return func(msg jetstream.Msg) {
		select {
		case r.commands <- command{node: node, msg: msg}:
		case <-done:
		}
	}
}

func (r *runner) consumerConfig(node string) jetstream.ConsumerConfig {
	name := fmt.Sprintf("clientele-simulate-%s-%d-%s", events.Key(r.cfg.Domain)[:8], r.cfg.Seed, node)
	return jetstream.ConsumerConfig{
		Durable:           name,
		Description:       "clientele simulator node " + node + " of " + r.cfg.Domain,
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           commandAckWait,
		FilterSubject:     events.DomainCommandFilter(r.cfg.Domain),
		InactiveThreshold: consumerInactiveThreshold,
	}
}

// handle carries out one delivered command on its node, publishes the
// resulting events and acknowledges the command. A command that does not
// decode is terminated so that it is not delivered again.
func (r *runner) handle(ctx context.Context, c command) error {
	log := r.cfg.Logger.With("node", c.node)
	cmd, err := events.DecodeCommand(c.msg.Data())
	if err != nil {
		log.Warn("command rejected", "subject", c.msg.Subject(), "error", err)
		if err := c.msg.Term(); err != nil {
			log.Warn("terminate of command failed", "error", err)
		}
		return nil
	}
	log = log.With("command", cmd.ID, "user", cmd.User, "target", cmd.Target)

	evs, err := r.gen.Revoke(c.node, cmd, time.Now())
	if err != nil {
		return err
	}
	if len(evs) > 0 {
		acked, err := r.publish(ctx, evs)
		r.stats.RevokeEvents += acked
		if err != nil {
			if err := c.msg.Nak(); err != nil {
				log.Warn("negative acknowledgement of command failed", "error", err)
			}
			return err
		}
	}
	if err := c.msg.Ack(); err != nil {
		log.Warn("acknowledgement of command failed", "error", err)
	}
	r.stats.Commands++
	log.Info("command carried out", "type", cmd.Type, "events", len(evs))
	return nil
}

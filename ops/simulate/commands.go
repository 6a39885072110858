package simulate

import (
	"context"
	"fmt"
	"time"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/nats-io/nats.go/jetstream"
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
		cons, err := r.js.CreateOrUpdateConsumer(ctx, events.CommandStreamName, r.consumerConfig(node))
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

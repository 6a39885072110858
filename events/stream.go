package events

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamOptions sets the JetStream streams that clientele creates. The zero
// value gives one replica, a two-minute duplicate window and no age limit.
type StreamOptions struct {
	// Replicas is the number of stream replicas; 0 means 1. Use 3 on a cluster.
	Replicas int
	// Duplicates is the window in which a repeated Nats-Msg-Id is stored once;
	// 0 means two minutes.
	Duplicates time.Duration
	// MaxAge drops events older than this; 0 keeps them forever.
	MaxAge time.Duration
	// CommandMaxAge drops undelivered revoke commands older than this;
	// 0 means seven days.
	CommandMaxAge time.Duration
}

func (o StreamOptions) replicas() int {
	if o.Replicas <= 0 {
		return 1
	}
	return o.Replicas
}

func (o StreamOptions) duplicates() time.Duration {
	if o.Duplicates <= 0 {
		return 2 * time.Minute
	}
	return o.Duplicates
}

// MaxStoredEventSize is the largest message, headers included, that the
// event stream stores: an event of MaxEventSize and 4 KiB for its headers.
// JetStream rejects larger publishes, so that no publisher can store an
// event that the projector would have to skip.
const MaxStoredEventSize = MaxEventSize + 4<<10

// StreamConfig returns the configuration of the event stream: file storage,
// every event and dead-letter subject, deduplication by Nats-Msg-Id, and
// messages of at most MaxStoredEventSize.
func StreamConfig(o StreamOptions) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamName,
		Description: "clientele auth and session events",
		Subjects:    []string{AllEventsSubject},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Replicas:    o.replicas(),
		Duplicates:  o.duplicates(),
		MaxAge:      o.MaxAge,
		MaxMsgSize:  MaxStoredEventSize,
		AllowDirect: true,
	}
}

// DeadLetterStreamConfig returns the configuration of the stream that keeps
// malformed messages copied by the projector.
func DeadLetterStreamConfig(o StreamOptions) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        "CLIENTELE_DEADLETTER",
		Description: "clientele messages that the projector could not decode",
		Subjects:    []string{DeadLetterSubject},
		Storage:     jetstream.FileStorage,
		Replicas:    o.replicas(),
		MaxAge:      30 * 24 * time.Hour,
	}
}

// CommandStreamConfig returns the configuration of the revoke command stream.
// Nodes consume it with their own durable consumers, so a node that was down
// receives the commands when it returns.
func CommandStreamConfig(o StreamOptions) jetstream.StreamConfig {
	age := o.CommandMaxAge
	if age <= 0 {
		age = 7 * 24 * time.Hour
	}
	return jetstream.StreamConfig{
		Name:        CommandStreamName,
		Description: "clientele revoke commands for XMPP nodes",
		Subjects:    []string{AllCommandsSubject},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    o.replicas(),
		Duplicates:  o.duplicates(),
		MaxAge:      age,
	}
}

// EnsureStreams creates the event, dead-letter and command streams, or
// updates them to the configuration of o when they exist.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	for _, cfg := range []jetstream.StreamConfig{StreamConfig(o), DeadLetterStreamConfig(o), CommandStreamConfig(o)} {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("events: create stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

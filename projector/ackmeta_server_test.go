package projector

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/ops/natstest"
)

// TestParsePositionOfServerReplies checks parsePosition against the reply
// subjects of the nats-server this module builds with, and against
// msg.Metadata of the same messages.
func TestParsePositionOfServerReplies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, js := natstest.Start(t).Connect(t)

	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "POS", Subjects: []string{"pos.>"}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := js.Publish(ctx, "pos.a", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}

	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(3)
	if err != nil {
		t.Fatal(err)
	}

	n := 0
	for msg := range batch.Messages() {
		n++
		got, ok := parsePosition(msg.Reply())
		if !ok {
			t.Fatalf("parsePosition rejected the reply subject %q", msg.Reply())
		}
		meta, err := msg.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		if got.seq != meta.Sequence.Stream || !got.stored.Equal(meta.Timestamp) || got.pending != meta.NumPending {
			t.Errorf("parsePosition(%q) = %+v, Metadata gives seq %d, time %v, pending %d",
				msg.Reply(), got, meta.Sequence.Stream, meta.Timestamp, meta.NumPending)
		}
	}
	if n != 3 {
		t.Fatalf("fetched %d messages, want 3 (%v)", n, batch.Error())
	}
}

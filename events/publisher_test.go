package events_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/natstest"
)

func TestPublishDeduplicates(t *testing.T) {
	_, js := natstest.Start(t).Connect(t)
	ctx := context.Background()
	if err := events.EnsureStreams(ctx, js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(js, events.PublisherOptions{})
	first, err := pub.Publish(ctx, validEvent())
	if err != nil {
		t.Fatal(err)
	}
	again, err := pub.Publish(ctx, validEvent())
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Errorf("retry stored at sequence %d, want the original %d", again, first)
	}
	stream, _ := js.Stream(ctx, events.StreamName)
	info, _ := stream.Info(ctx)
	if info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages, want 1", info.State.Msgs)
	}
}

func TestPublishRejectsInvalid(t *testing.T) {
	_, js := natstest.Start(t).Connect(t)
	pub := events.NewPublisher(js, events.PublisherOptions{})
	e := validEvent()
	e.User = ""
	if _, err := pub.Publish(context.Background(), e); !errors.Is(err, events.ErrInvalid) {
		t.Fatalf("Publish = %v, want ErrInvalid", err)
	}
}

func TestPublishWithoutStreamFails(t *testing.T) {
	_, js := natstest.Start(t).Connect(t)
	pub := events.NewPublisher(js, events.PublisherOptions{Retries: 2, Backoff: time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pub.Publish(ctx, validEvent()); !errors.Is(err, events.ErrPublish) {
		t.Fatalf("Publish without a stream = %v, want ErrPublish", err)
	}
}

func TestPublishBatch(t *testing.T) {
	_, js := natstest.Start(t).Connect(t)
	ctx := context.Background()
	if err := events.EnsureStreams(ctx, js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(js, events.PublisherOptions{MaxPending: 16})
	var evs []*events.Event
	for i := range 100 {
		e := validEvent()
		e.ID = fmt.Sprintf("batch-%d", i)
		evs = append(evs, e)
	}
	evs[50].Node = "bad node"
	results, err := pub.PublishBatch(ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if i == 50 {
			if !errors.Is(r.Err, events.ErrInvalid) {
				t.Errorf("result 50 = %v, want ErrInvalid", r.Err)
			}
			continue
		}
		if r.Err != nil || r.Seq == 0 || r.Duplicate {
			t.Errorf("result %d = %+v, want a new sequence", i, r)
		}
	}
	results, _ = pub.PublishBatch(ctx, evs[:10])
	for i, r := range results {
		if !r.Duplicate {
			t.Errorf("second publish of event %d not reported as duplicate", i)
		}
	}
}

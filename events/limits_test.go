package events_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/natstest"
)

// escapedEvent returns an event that passes Validate, with every text field
// at MaxFieldLen, and whose JSON is larger than MaxEventSize because each
// '<' encodes as the six bytes \u003c.
func escapedEvent() *events.Event {
	s := strings.Repeat("<", events.MaxFieldLen)
	e := validEvent()
	e.Type, e.Session = events.GrantIssued, nil
	e.Mechanism, e.Reason, e.Target, e.Actor, e.Request, e.IP = s, s, s, s, s, s
	e.Client = &events.Client{ID: s, Software: s, Version: s, URI: s, Device: s}
	e.Grant = &events.Grant{ID: s, Name: s, URI: s, SoftwareID: s, SoftwareVersion: s}
	e.Fast = &events.Fast{Fingerprint: s}
	return e
}

func TestPublishRejectsOversizedEncoding(t *testing.T) {
	e := escapedEvent()
	if err := events.Validate(e); err != nil {
		t.Fatalf("Validate = %v, want nil: the test needs a valid event", err)
	}
	data, err := events.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) <= events.MaxEventSize {
		t.Fatalf("event encodes to %d bytes, want more than %d", len(data), events.MaxEventSize)
	}

	_, js := natstest.Start(t).Connect(t)
	ctx := context.Background()
	if err := events.EnsureStreams(ctx, js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(js, events.PublisherOptions{})
	if _, err := pub.Publish(ctx, e); !errors.Is(err, events.ErrInvalid) {
		t.Errorf("Publish = %v, want ErrInvalid", err)
	}
	results, err := pub.PublishBatch(ctx, []*events.Event{e})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(results[0].Err, events.ErrInvalid) {
		t.Errorf("PublishBatch result = %+v, want ErrInvalid", results[0])
	}
}

// TestStreamRejectsOversizedMessage publishes raw messages past the
// Publisher, as a node with its own client could, and checks that the event
// stream stores one of MaxEventSize and rejects a larger one.
func TestStreamRejectsOversizedMessage(t *testing.T) {
	_, js := natstest.Start(t).Connect(t)
	ctx := context.Background()
	if err := events.EnsureStreams(ctx, js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	subject := events.Subject(validEvent())
	cases := []struct {
		name   string
		size   int
		stored bool
	}{
		{"at the event limit", events.MaxEventSize, true},
		{"over the stored limit", events.MaxStoredEventSize + 1, false},
		{"at the server payload limit", 1 << 20, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := js.Publish(ctx, subject, make([]byte, tc.size))
			if tc.stored && err != nil {
				t.Errorf("publish of %d bytes = %v, want it stored", tc.size, err)
			}
			var apiErr *jetstream.APIError
			if !tc.stored && err == nil {
				t.Errorf("publish of %d bytes stored, want it rejected", tc.size)
			}
			if !tc.stored && errors.As(err, &apiErr) && apiErr.Code >= 500 {
				t.Errorf("publish of %d bytes = %v, want a rejection that a retry does not repeat", tc.size, err)
			}
		})
	}
}

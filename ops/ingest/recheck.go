package ingest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
)

// recheckSkew is how much earlier than an event's own time a copy of it may
// have been stored: an allowance for the clock difference between a node
// and the NATS servers.
const recheckSkew = 10 * time.Minute

// recheckSubjects bounds the filter subjects of one lookup consumer.
const recheckSubjects = 100

// recheckStored looks up the events of b in the event stream and marks the
// ones already stored as duplicates. It returns the events that are still
// to be published. The Nats-Msg-Id of a publish prevents duplicates only
// within the stream's duplicate window, two minutes by default. This lookup
// covers a node that resends events after a longer outage, when it cannot
// know whether an earlier attempt was stored.
func (s *Server) recheckStored(ctx context.Context, b batch, resp *EventsResponse) batch {
	if len(b.events) == 0 {
		return b
	}
	stored, err := findStored(ctx, s.cfg.JS, b.events)
	if err != nil {
		s.log.Warn("looking up stored copies of resent events failed", "events", len(b.events), "error", err)
		for _, i := range b.results {
			res := &resp.Results[i]
			res.Status, res.Retry = http.StatusServiceUnavailable, true
			res.Error = "not stored: looking up an earlier stored copy failed: " + err.Error()
		}
		return batch{}
	}

	var rest batch
	for k, e := range b.events {
		seq, ok := stored[e.ID]
		if !ok {
			rest.events = append(rest.events, e)
			rest.results = append(rest.results, b.results[k])
			continue
		}
		res := &resp.Results[b.results[k]]
		res.OK, res.Seq, res.Duplicate = true, seq, true
	}
	return rest
}

// findStored returns the stream sequence of every event of evs that the
// event stream holds, keyed by event id. It reads the headers of the
// messages on the events' subjects stored since the earliest event time
// less recheckSkew.
func findStored(ctx context.Context, js jetstream.JetStream, evs []*events.Event) (map[string]uint64, error) {
	ids := make(map[string]bool, len(evs))
	var subjects []string
	start := evs[0].Time
	for _, e := range evs {
		ids[e.ID] = true
		subjects = append(subjects, events.Subject(e))
		if e.Time.Before(start) {
			start = e.Time
		}
	}
	slices.Sort(subjects)
	subjects = slices.Compact(subjects)
	start = start.Add(-recheckSkew)

	found := make(map[string]uint64)
	for chunk := range slices.Chunk(subjects, recheckSubjects) {
		if err := scanSubjects(ctx, js, chunk, start, ids, found); err != nil {
			return nil, err
		}
	}
	return found, nil
}

// scanSubjects reads the headers of the messages on subjects stored since
// start, and records in found the sequence of each one whose Nats-Msg-Id is
// in ids.
func scanSubjects(ctx context.Context, js jetstream.JetStream, subjects []string, start time.Time, ids map[string]bool, found map[string]uint64) error {
	cons, err := js.CreateConsumer(ctx, events.StreamName, jetstream.ConsumerConfig{
		FilterSubjects:    subjects,
		DeliverPolicy:     jetstream.DeliverByStartTimePolicy,
		OptStartTime:      &start,
		AckPolicy:         jetstream.AckNonePolicy,
		HeadersOnly:       true,
		MemoryStorage:     true,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return fmt.Errorf("create lookup consumer: %w", err)
	}
	defer func() {
		_ = js.DeleteConsumer(context.WithoutCancel(ctx), events.StreamName, cons.CachedInfo().Name)
	}()

	pending := cons.CachedInfo().NumPending
	for pending > 0 {
		msgs, err := cons.Fetch(int(min(pending, 1000)), jetstream.FetchContext(ctx))
		if err != nil {
			return fmt.Errorf("fetch stored events: %w", err)
		}
		read := 0
		for msg := range msgs.Messages() {
			read++
			meta, err := msg.Metadata()
			if err != nil {
				return fmt.Errorf("stored event metadata: %w", err)
			}
			pending = meta.NumPending
			if id := msg.Headers().Get(jetstream.MsgIDHeader); ids[id] {
				found[id] = meta.Sequence.Stream
			}
		}
		if err := msgs.Error(); err != nil {
			return fmt.Errorf("fetch stored events: %w", err)
		}
		if read == 0 {
			return fmt.Errorf("fetch stored events: no message arrived while %d were pending", pending)
		}
	}
	return nil
}

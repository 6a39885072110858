package query

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/clientele-xmpp/clientele/events"
)

// Page sizes of a history request.
const (
	DefaultHistoryLimit = 500
	MaxHistoryLimit     = 5000
)

// HistoryRequest is a request for the stored events of User in stream order,
// starting after stream sequence After. Since and Until, when set, keep
// only events whose time lies within them, both included. Limit caps the
// entries of one reply; 0 means DefaultHistoryLimit.
type HistoryRequest struct {
	User  string    `json:"user"`
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
	After uint64    `json:"after,omitempty"`
	Limit int       `json:"limit,omitempty"`
}

// HistoryEntry is one stored event of an account and its stream sequence.
// Its JSON form is the event's wire form with a "seq" field added.
type HistoryEntry struct {
	Seq uint64 `json:"seq"`
	events.Event
}

// HistoryReply is one page of an account's history.
type HistoryReply struct {
	User    string         `json:"user"`
	Entries []HistoryEntry `json:"entries"`
	// Next is the After of the request for the next page, and 0 when this
	// page is the last.
	Next uint64 `json:"next,omitempty"`
	// Skipped counts the messages on the account's subjects that are not
	// valid events, which the projector skips too.
	Skipped int `json:"skipped,omitempty"`
}

func (s *Service) handleHistory(ctx context.Context, req micro.Request) (any, error) {
	var r HistoryRequest
	if _, err := s.decode(req, &r, &r.User); err != nil {
		return nil, err
	}
	return s.History(ctx, r)
}

// History returns one page of the events of r.User from a consumer filtered
// to that account's subjects, so its cost follows the account's history and
// not the stream's size. IP addresses older than Config.IPMaxAge are left
// out. r.User must be normalised. Errors wrap ErrBadRequest or
// ErrUnavailable.
func (s *Service) History(ctx context.Context, r HistoryRequest) (*HistoryReply, error) {
	limit, err := historyLimit(r)
	if err != nil {
		return nil, err
	}
	stream, err := s.eventStream(ctx)
	if err != nil {
		return nil, err
	}

	reply := &HistoryReply{User: r.User, Entries: []HistoryEntry{}}
	now := s.cfg.Now()
	size, last := 0, uint64(0)
	scan := scanRange{filters: []string{events.UserFilter(r.User)}, start: r.After + 1}
	err = scanStream(ctx, stream, scan, func(msg jetstream.Msg, meta *jetstream.MsgMetadata) bool {
		if len(reply.Entries) >= limit || size+len(msg.Data()) > maxReplyBytes {
			reply.Next = last
			return false
		}
		last = meta.Sequence.Stream
		e, err := events.Decode(msg.Data())
		if err != nil {
			reply.Skipped++
			return true
		}
		if e.User != r.User || !within(e.Time, r.Since, r.Until) {
			return true
		}
		s.redactIP(e, now)
		reply.Entries = append(reply.Entries, HistoryEntry{Seq: last, Event: *e})
		size += len(msg.Data())
		return true
	})
	if err != nil {
		return nil, err
	}
	return reply, nil
}

func historyLimit(r HistoryRequest) (int, error) {
	switch {
	case r.Limit < 0 || r.Limit > MaxHistoryLimit:
		return 0, fmt.Errorf("%w: limit %d: expected 1 to %d, or 0 for %d", ErrBadRequest, r.Limit, MaxHistoryLimit, DefaultHistoryLimit)
	case !r.Since.IsZero() && !r.Until.IsZero() && r.Until.Before(r.Since):
		return 0, fmt.Errorf("%w: until %s is before since %s", ErrBadRequest, r.Until.Format(time.RFC3339Nano), r.Since.Format(time.RFC3339Nano))
	case r.Limit == 0:
		return DefaultHistoryLimit, nil
	}
	return r.Limit, nil
}

// within reports whether t lies between since and until, both included; a
// zero bound is open.
func within(t, since, until time.Time) bool {
	return (since.IsZero() || !t.Before(since)) && (until.IsZero() || !t.After(until))
}

// redactIP clears the IP address of e when e is older than IPMaxAge at now,
// or always when IPMaxAge is 0.
func (s *Service) redactIP(e *events.Event, now time.Time) {
	if e.IP != "" && (s.cfg.IPMaxAge == 0 || now.Sub(e.Time) > s.cfg.IPMaxAge) {
		e.IP = ""
	}
}

func (s *Service) eventStream(ctx context.Context) (jetstream.Stream, error) {
	stream, err := s.cfg.JS.Stream(ctx, events.StreamName)
	if err != nil {
		return nil, fmt.Errorf("%w: stream %s: %v", ErrUnavailable, events.StreamName, err)
	}
	return stream, nil
}

// History returns every event of req.User within req.Since and req.Until,
// ordered by event time and then stream sequence, reading page after page
// from req.After on. Skipped sums the skipped messages of all pages. Errors
// wrap ErrBadRequest, ErrUnavailable or ErrTimeout.
func (c *Client) History(ctx context.Context, req HistoryRequest) (*HistoryReply, error) {
	all := &HistoryReply{User: req.User, Entries: []HistoryEntry{}}
	for {
		var page HistoryReply
		if err := c.callScan(ctx, HistorySubject, req, &page); err != nil {
			return nil, err
		}
		all.User = page.User
		all.Entries = append(all.Entries, page.Entries...)
		all.Skipped += page.Skipped
		if page.Next == 0 {
			break
		}
		req.After = page.Next
	}
	slices.SortStableFunc(all.Entries, func(a, b HistoryEntry) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	return all, nil
}

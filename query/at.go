package query

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/clientele-xmpp/clientele/projector"
)

// ClientsAtRequest is a request for the clients of User as they stood at
// time At.
type ClientsAtRequest struct {
	User string    `json:"user"`
	At   time.Time `json:"at"`
}

// ClientsAtReply is the client list of one account at a past time: what a
// fresh replay of the stream, cut at At, lists for the account at At.
type ClientsAtReply struct {
	User    string                 `json:"user"`
	At      time.Time              `json:"at"`
	Clients []projector.ClientView `json:"clients"`
	Replay  ReplayInfo             `json:"replay"`
}

// DiffRequest is a request for how the clients of User changed from time
// From to time To.
type DiffRequest struct {
	User string    `json:"user"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// DiffReply lists the clients of an account that gained, changed or lost
// access between two times.
type DiffReply struct {
	User string    `json:"user"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	Diff
	Replay ReplayInfo `json:"replay"`
}

func (s *Service) handleClientsAt(ctx context.Context, req micro.Request) (any, error) {
	var r ClientsAtRequest
	if _, err := s.decode(req, &r, &r.User); err != nil {
		return nil, err
	}
	return s.ClientsAt(ctx, r)
}

// ClientsAt returns the clients of r.User at r.At. r.User must be
// normalised. Errors wrap ErrBadRequest or ErrUnavailable.
func (s *Service) ClientsAt(ctx context.Context, r ClientsAtRequest) (*ClientsAtReply, error) {
	if r.At.IsZero() {
		return nil, fmt.Errorf("%w: at is missing: set an RFC 3339 time", ErrBadRequest)
	}
	states, info, err := s.foldAt(ctx, r.User, []time.Time{r.At})
	if err != nil {
		return nil, err
	}
	clients := states[0].Clients(r.User, s.pastViewOptions(r.At))
	return &ClientsAtReply{User: r.User, At: r.At, Clients: clients, Replay: info}, nil
}

func (s *Service) handleDiff(ctx context.Context, req micro.Request) (any, error) {
	var r DiffRequest
	if _, err := s.decode(req, &r, &r.User); err != nil {
		return nil, err
	}
	return s.Diff(ctx, r)
}

// Diff compares the clients of r.User at r.From with those at r.To, each as
// ClientsAt returns them. r.User must be normalised. Errors wrap
// ErrBadRequest or ErrUnavailable.
func (s *Service) Diff(ctx context.Context, r DiffRequest) (*DiffReply, error) {
	if r.From.IsZero() || r.To.IsZero() {
		return nil, fmt.Errorf("%w: from and to are required: set RFC 3339 times", ErrBadRequest)
	}
	states, info, err := s.foldAt(ctx, r.User, []time.Time{r.From, r.To})
	if err != nil {
		return nil, err
	}
	before := states[0].Clients(r.User, s.pastViewOptions(r.From))
	after := states[1].Clients(r.User, s.pastViewOptions(r.To))
	return &DiffReply{User: r.User, From: r.From, To: r.To, Diff: CompareViews(before, after), Replay: info}, nil
}

func (s *Service) pastViewOptions(at time.Time) projector.ViewOptions {
	return projector.ViewOptions{Now: at, HeartbeatTimeout: max(s.cfg.HeartbeatTimeout, 0)}
}

// ClientsAt returns the clients of req.User at req.At. Errors wrap
// ErrBadRequest, ErrUnavailable or ErrTimeout.
func (c *Client) ClientsAt(ctx context.Context, req ClientsAtRequest) (*ClientsAtReply, error) {
	var reply ClientsAtReply
	if err := c.callScan(ctx, ClientsAtSubject, req, &reply); err != nil {
		return nil, err
	}
	return &reply, nil
}

// Diff returns how the clients of req.User changed from req.From to req.To.
// Errors wrap ErrBadRequest, ErrUnavailable or ErrTimeout.
func (c *Client) Diff(ctx context.Context, req DiffRequest) (*DiffReply, error) {
	var reply DiffReply
	if err := c.callScan(ctx, DiffSubject, req, &reply); err != nil {
		return nil, err
	}
	return &reply, nil
}

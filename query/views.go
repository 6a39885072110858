package query

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
)

// ViewsRequest is a request for the live views of accounts: those named in Users,
// or else a page of every account in JID order after the account After.
// Limit caps the accounts of a page; 0 means DefaultAccountsLimit.
type ViewsRequest struct {
	Users []string `json:"users,omitempty"`
	After string   `json:"after,omitempty"`
	Limit int      `json:"limit,omitempty"`
}

// AccountView is the client list of one account.
type AccountView struct {
	User    string                 `json:"user"`
	Clients []projector.ClientView `json:"clients"`
}

// ViewsReply holds live views that all reflect the stream up to Seq, as
// the projector computed them at Now with a heartbeat timeout of
// HeartbeatTimeout, so that a replay cut at Seq can be compared with them.
type ViewsReply struct {
	Accounts []AccountView `json:"accounts"`
	Seq      uint64        `json:"seq"`
	Now      time.Time     `json:"now"`
	// HeartbeatTimeout is in nanoseconds; 0 means none.
	HeartbeatTimeout time.Duration `json:"heartbeat_timeout_ns"`
	// Next is the After of the request for the next page, and empty when
	// this page is the last or the request named its Users. Named users
	// that do not fit into one reply are left out; ask for them again.
	Next string `json:"next,omitempty"`
}

func (s *Service) handleViews(ctx context.Context, req micro.Request) (any, error) {
	var r ViewsRequest
	if err := decodeBody(req, &r); err != nil {
		return nil, err
	}
	return s.Views(ctx, r)
}

// Views returns the live views that r requests, all computed under one
// read lock of the projector. An account the view does not know gets an
// empty client list. Errors wrap ErrBadRequest.
func (s *Service) Views(_ context.Context, r ViewsRequest) (*ViewsReply, error) {
	limit, err := accountsLimit(r.Limit)
	if err != nil {
		return nil, err
	}
	users, more := r.Users, false
	if len(users) == 0 {
		users = s.accountsAfter(r.After)
		more = len(users) > limit
		users = users[:min(len(users), limit)]
	} else if users, err = normaliseUsers(users); err != nil {
		return nil, err
	}

	views, seq, opt := s.cfg.Views.ClientsOf(users, s.cfg.Now())
	reply := &ViewsReply{Accounts: []AccountView{}, Seq: seq, Now: opt.Now, HeartbeatTimeout: opt.HeartbeatTimeout}
	size := 0
	for i, user := range users {
		v := AccountView{User: user, Clients: views[i]}
		size += encodedSize(v)
		if len(reply.Accounts) > 0 && size > maxReplyBytes {
			more = len(r.Users) == 0
			break
		}
		reply.Accounts = append(reply.Accounts, v)
	}
	if more {
		reply.Next = reply.Accounts[len(reply.Accounts)-1].User
	}
	return reply, nil
}

func normaliseUsers(users []string) ([]string, error) {
	if len(users) > MaxAccountsLimit {
		return nil, fmt.Errorf("%w: %d users: expected at most %d", ErrBadRequest, len(users), MaxAccountsLimit)
	}
	out := make([]string, len(users))
	for i, u := range users {
		n, err := events.NormaliseUser(u)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		out[i] = n
	}
	return out, nil
}

// Views returns the live views that req requests. Errors wrap
// ErrBadRequest, ErrUnavailable or ErrTimeout.
func (c *Client) Views(ctx context.Context, req ViewsRequest) (*ViewsReply, error) {
	var reply ViewsReply
	if err := c.callScan(ctx, ViewsSubject, req, &reply); err != nil {
		return nil, err
	}
	return &reply, nil
}

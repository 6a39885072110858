package query

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/micro"

	"github.com/clientele-xmpp/clientele/events"
)

// RevokeOthersRequest is a request to revoke every listed client of User except
// the one with listing id Keep: "sign out everywhere else".
type RevokeOthersRequest struct {
	User string `json:"user"`
	Keep string `json:"keep"`
	// Actor is who asked: the user's JID, or an administrator's name; empty
	// means the user.
	Actor string `json:"actor,omitempty"`
	// RequestID makes retries of one request idempotent; empty means new.
	RequestID string `json:"request_id,omitempty"`
}

func (s *Service) handleRevokeOthers(ctx context.Context, req micro.Request) (any, error) {
	var r RevokeOthersRequest
	if _, err := s.decode(req, &r, &r.User); err != nil {
		return nil, err
	}
	return s.RevokeOthers(ctx, r)
}

// RevokeOthers revokes every listed client of r.User except r.Keep, one
// after the other as Revoke does. Keep must be a listed client of the
// account, so that a mistyped id revokes nothing: otherwise the error wraps
// ErrNotFound. A client that is gone by the time its turn comes is skipped.
// After an ErrUnavailable the clients before the failed one stay revoked.
// r.User must be normalised.
func (s *Service) RevokeOthers(ctx context.Context, r RevokeOthersRequest) (*RevokeReply, error) {
	if r.Keep == "" || len(r.Keep) > MaxSelectorLen {
		return nil, ErrNotFound
	}
	clients, _ := s.cfg.Views.Clients(r.User)
	kept := false
	for _, c := range clients {
		kept = kept || c.ID == r.Keep
	}
	if !kept {
		return nil, ErrNotFound
	}
	requestID := r.RequestID
	if requestID == "" {
		requestID = events.NewID()
	}

	reply := &RevokeReply{Revoked: []string{}}
	for i, c := range clients {
		if c.ID == r.Keep {
			continue
		}
		one, err := s.Revoke(ctx, RevokeRequest{User: r.User, Selector: c.ID, Actor: r.Actor, RequestID: fmt.Sprintf("%s-o%d", requestID, i)})
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w (revoked before the failure: %v)", err, reply.Revoked)
		}
		reply.Revoked = append(reply.Revoked, one.Revoked...)
		reply.PasswordResetRequired = reply.PasswordResetRequired || one.PasswordResetRequired
		reply.Seq = max(reply.Seq, one.Seq)
	}
	return reply, nil
}

// RevokeOthers revokes every client of req.User except req.Keep. Errors
// wrap ErrNotFound when req.Keep is not a listed client of the account, and
// otherwise ErrBadRequest, ErrUnavailable or ErrTimeout.
func (c *Client) RevokeOthers(ctx context.Context, req RevokeOthersRequest) (*RevokeReply, error) {
	var reply RevokeReply
	if err := c.call(ctx, RevokeOthersSubject, req, &reply); err != nil {
		return nil, err
	}
	return &reply, nil
}

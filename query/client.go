package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// DefaultTimeout bounds a request whose context has no deadline.
const DefaultTimeout = 10 * time.Second

// Client calls the query service over NATS. It is safe for concurrent use.
type Client struct {
	nc *nats.Conn
}

// NewClient returns a Client that sends requests on nc.
func NewClient(nc *nats.Conn) *Client {
	return &Client{nc: nc}
}

// List returns the clients of req.User. Errors wrap ErrBadRequest,
// ErrUnavailable or ErrTimeout.
func (c *Client) List(ctx context.Context, req ListRequest) (*ListReply, error) {
	var reply ListReply
	if err := c.call(ctx, ListSubject, req, &reply); err != nil {
		return nil, err
	}
	return &reply, nil
}

// Revoke revokes the clients of req.User that req.Selector names. Errors
// wrap ErrNotFound, ErrBadRequest, ErrUnavailable or ErrTimeout; after
// ErrTimeout the revoke may or may not have been stored.
func (c *Client) Revoke(ctx context.Context, req RevokeRequest) (*RevokeReply, error) {
	var reply RevokeReply
	if err := c.call(ctx, RevokeSubject, req, &reply); err != nil {
		return nil, err
	}
	return &reply, nil
}

func (c *Client) call(ctx context.Context, subject string, req, reply any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	data, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	msg, err := c.nc.RequestWithContext(ctx, subject, data)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("%w: no clientele service responds on %s; start `clientele serve`", ErrUnavailable, subject)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		return fmt.Errorf("%w: %s", ErrTimeout, subject)
	case err != nil:
		return fmt.Errorf("%w: %s: %v", ErrUnavailable, subject, err)
	}
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		return serviceError(code, msg.Header.Get(micro.ErrorHeader))
	}
	if err := json.Unmarshal(msg.Data, reply); err != nil {
		return fmt.Errorf("%w: reply on %s: %v", ErrUnavailable, subject, err)
	}
	return nil
}

func serviceError(code, desc string) error {
	var sentinel error
	switch code {
	case codeBadRequest:
		sentinel = ErrBadRequest
	case codeNotFound:
		return ErrNotFound
	case codeTimeout:
		sentinel = ErrTimeout
	default:
		sentinel = ErrUnavailable
	}
	return fmt.Errorf("%w: %s", sentinel, desc)
}

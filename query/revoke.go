package query

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
)

// MaxSelectorLen is the longest client id or software selector accepted.
const MaxSelectorLen = 1024

// startRevoke runs handleRevoke on its own goroutine, because a revoke waits
// for acknowledgements and one slow revoke must not hold up the others. At
// most MaxConcurrentRevokes run at once. A revoke beyond them gets an
// ErrUnavailable reply at once, so a burst cannot grow without bound.
func (s *Service) startRevoke(req micro.Request) {
	select {
	case s.revokeSlots <- struct{}{}:
	default:
		s.fail(req, "revoke", time.Now(), fmt.Errorf("%w: %d revokes in progress; retry shortly", ErrUnavailable, cap(s.revokeSlots)))
		return
	}
	go func() {
		defer func() { <-s.revokeSlots }()
		s.handleRevoke(req)
	}()
}

func (s *Service) handleRevoke(req micro.Request) {
	start := time.Now()
	var r RevokeRequest
	_, err := s.decode(req, &r, &r.User)
	if err != nil {
		s.fail(req, "revoke", start, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	if err := s.waitView(ctx, 0); err != nil {
		s.fail(req, "revoke", start, err)
		return
	}
	reply, err := s.Revoke(ctx, r)
	if err != nil {
		s.fail(req, "revoke", start, err)
		return
	}
	s.respond(req, "revoke", start, reply)
}

// Revoke carries out r. It checks the selector against the current view of
// r.User, then appends a client.revoked event and publishes a revoke command
// for every matching client. It returns after JetStream acknowledged all of
// them and the local view applied them, or after ctx ends while the view
// lags, which it logs. Errors wrap ErrNotFound when nothing of the account
// matches, and ErrUnavailable when a publish failed. A client is reported
// revoked only when its event and command were stored.
func (s *Service) Revoke(ctx context.Context, r RevokeRequest) (*RevokeReply, error) {
	if r.Selector == "" || len(r.Selector) > MaxSelectorLen {
		return nil, ErrNotFound
	}
	watch := s.cfg.Revokes.watch()
	defer watch.close()
	targets := s.cfg.Views.Resolve(r.User, r.Selector)
	if len(targets) == 0 {
		return nil, ErrNotFound
	}
	requestID := r.RequestID
	if requestID == "" {
		requestID = events.NewID()
	}
	actor := r.Actor
	if actor == "" {
		actor = r.User
	}

	reply := &RevokeReply{Revoked: []string{}}
	for i, t := range targets {
		pending := watch.track(r.User, t)
		seq, err := s.revokeOne(ctx, r.User, actor, fmt.Sprintf("%s-%d", requestID, i), t)
		if err != nil {
			watch.cancel(pending)
			return nil, err
		}
		reply.Revoked = append(reply.Revoked, t.View.ID)
		reply.Seq = max(reply.Seq, seq)
		if t.View.HasAuth(projector.AuthPassword) {
			reply.PasswordResetRequired = true
		}
		s.log.Info("client revoked", "user", r.User, "client_id", t.View.ID, "actor", actor, "seq", seq)
	}
	s.cfg.Metrics.revoked(len(reply.Revoked), reply.PasswordResetRequired)

	if err := s.cfg.Views.WaitApplied(ctx, reply.Seq); err != nil {
		// The revoke is stored; only the local view lags behind it.
		s.log.Warn("revoke stored but not yet applied", "user", r.User, "seq", reply.Seq, "error", err)
	}
	return reply, nil
}

// revokeOne appends the client.revoked event of t and its command, and
// returns the event's stream sequence. The event and command ids derive from
// id, so that a retried request is stored once.
func (s *Service) revokeOne(ctx context.Context, user, actor, id string, t projector.Target) (uint64, error) {
	now := s.cfg.Now().UTC()
	e := &events.Event{
		ID: id, Type: events.ClientRevoked, V: events.Version, Time: now,
		Node: s.cfg.Node, User: user, Target: t.View.ID, Actor: actor, Request: id,
	}
	seq, err := s.cfg.Publisher.Publish(ctx, e)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	cmd := &events.Command{
		ID: id, Type: events.CommandRevoke, Time: now, User: user, Target: t.View.ID, Actor: actor,
		ClientID: t.ClientID, Resources: t.Resources, Sessions: t.Sessions, Grants: t.Grants, Fast: t.Fast,
	}
	if _, err := s.cfg.Publisher.PublishCommand(ctx, cmd); err != nil {
		return 0, fmt.Errorf("%w: command: %v", ErrUnavailable, err)
	}
	return seq, nil
}

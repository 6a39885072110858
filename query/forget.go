package query

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/clientele-xmpp/clientele/events"
)

// ForgetRequest is a request to erase the account User: its events, revoke
// commands, dead letters and views.
type ForgetRequest struct {
	User string `json:"user"`
	// Actor is the administrator who asked, recorded on the tombstone; empty
	// means DefaultAdminActor.
	Actor string `json:"actor,omitempty"`
	// RequestID is the tombstone's event id and makes retries idempotent;
	// empty means new.
	RequestID string `json:"request_id,omitempty"`
	// Overwrite overwrites each stored event of the account with random
	// bytes before the purge. A purge alone leaves the bytes in the file
	// store's message blocks until JetStream removes or rewrites the block.
	// Overwriting rewrites a message block per event and is slow. Repeat a
	// request that timed out with the same RequestID to continue.
	Overwrite bool `json:"overwrite,omitempty"`
}

// ForgetReply reports an erased account. It names the account by its user
// key only.
type ForgetReply struct {
	UserKey string `json:"user_key"`
	// Events, Commands and DeadLetters count the removed messages of the
	// account on the event, command and dead-letter streams.
	Events      uint64 `json:"events"`
	Commands    uint64 `json:"commands"`
	DeadLetters int    `json:"dead_letters"`
	// Overwritten counts the events overwritten before the purge.
	Overwritten int `json:"overwritten,omitempty"`
	// TombstoneSeq is the stream sequence of the account.forgotten event.
	TombstoneSeq uint64 `json:"tombstone_seq"`
	// SnapshotStored is true when this replica stored a snapshot without the
	// account after applying the tombstone.
	SnapshotStored bool `json:"snapshot_stored"`
}

func (s *Service) handleForget(ctx context.Context, req micro.Request) (any, error) {
	var r ForgetRequest
	if _, err := s.decode(req, &r, &r.User); err != nil {
		return nil, err
	}
	return s.Forget(ctx, r)
}

// Forget erases the account r.User:
//
//  1. it appends an account.forgotten tombstone, which holds the account's
//     user key and no JID, and which every projector applies by dropping
//     the account from its view;
//  2. it purges the account's events stored before the tombstone, so a
//     replay finds nothing of it, while events stored later start a new
//     history in the stream and in the views alike;
//  3. it purges the account's revoke commands and deletes its dead letters;
//  4. once this replica applied the tombstone, it stores a snapshot, which
//     replaces the stored snapshot that still held the account.
//
// With r.Overwrite it overwrites the account's events before the purge.
// When ctx ends while it overwrites, it returns an error wrapping
// ErrTimeout and purges nothing yet, because a purged event can no longer be
// overwritten.
//
// r.User must be normalised. Errors wrap ErrUnavailable or ErrTimeout. A
// retry with the same request id reuses the stored tombstone, if it is the
// account's newest, and repeats the rest.
func (s *Service) Forget(ctx context.Context, r ForgetRequest) (*ForgetReply, error) {
	if r.Actor == "" {
		r.Actor = DefaultAdminActor
	}
	if r.RequestID == "" {
		r.RequestID = events.NewID()
	}
	stream, err := s.eventStream(ctx)
	if err != nil {
		return nil, err
	}
	reply := &ForgetReply{UserKey: events.UserKey(r.User)}
	filter := events.UserFilter(r.User)
	if reply.Events, err = countSubject(ctx, stream, filter); err != nil {
		return nil, err
	}

	if reply.TombstoneSeq, err = s.tombstone(ctx, stream, r); err != nil {
		return nil, err
	}
	if r.Overwrite && reply.TombstoneSeq > 1 {
		if reply.Overwritten, err = overwriteSubject(ctx, stream, filter, reply.TombstoneSeq-1); err != nil {
			return nil, err
		}
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject(filter), jetstream.WithPurgeSequence(reply.TombstoneSeq)); err != nil {
		return nil, fmt.Errorf("%w: purge %s: %v", ErrUnavailable, filter, err)
	}
	if reply.Commands, err = s.purgeCommands(ctx, r.User, r.Overwrite); err != nil {
		return nil, err
	}
	if reply.DeadLetters, err = s.deleteDeadLetters(ctx, r.User); err != nil {
		return nil, err
	}

	reply.SnapshotStored = s.snapshotAfter(ctx, reply.TombstoneSeq)
	s.log.Info("account forgotten", "user_key", reply.UserKey, "actor", r.Actor, "events", reply.Events,
		"commands", reply.Commands, "dead_letters", reply.DeadLetters, "seq", reply.TombstoneSeq)
	return reply, nil
}

// tombstone returns the stream sequence of the tombstone of r: the stored
// one when the account's newest tombstone has r.RequestID as its id, and
// else a newly published one.
func (s *Service) tombstone(ctx context.Context, stream jetstream.Stream, r ForgetRequest) (uint64, error) {
	key := events.UserKey(r.User)
	last, err := stream.GetLastMsgForSubject(ctx, events.ForgottenSubject(key))
	if err == nil {
		if e, err := events.Decode(last.Data); err == nil && e.ID == r.RequestID {
			return last.Sequence, nil
		}
	} else if !errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, fmt.Errorf("%w: look up tombstone: %v", ErrUnavailable, err)
	}
	t := events.NewForgotten(r.RequestID, s.cfg.Node, r.User, r.Actor, s.cfg.Now().UTC())
	seq, err := s.cfg.Publisher.Publish(ctx, t)
	if err != nil {
		return 0, fmt.Errorf("%w: tombstone: %v", ErrUnavailable, err)
	}
	return seq, nil
}

// snapshotAfter waits until this replica applied seq and stores a
// snapshot, and reports whether both succeeded. Other replicas apply the
// tombstone from the stream and drop the account with their next snapshot.
func (s *Service) snapshotAfter(ctx context.Context, seq uint64) bool {
	if err := s.cfg.Views.WaitApplied(ctx, seq); err != nil {
		s.log.Warn("tombstone not applied in time, snapshot left to the next interval", "seq", seq, "error", err)
		return false
	}
	if err := s.cfg.Views.Snapshot(ctx); err != nil {
		s.log.Error("snapshot after forget failed", "seq", seq, "error", err)
		return false
	}
	return true
}

// countSubject returns the number of messages of stream on filter.
func countSubject(ctx context.Context, stream jetstream.Stream, filter string) (uint64, error) {
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0, fmt.Errorf("%w: stream info: %v", ErrUnavailable, err)
	}
	var n uint64
	for _, count := range info.State.Subjects {
		n += count
	}
	return n, nil
}

// overwriteSubject overwrites every message of stream on filter up to
// sequence stop, or the stream's last when stop is 0, with random bytes and
// deletes it. It returns how many it overwrote.
func overwriteSubject(ctx context.Context, stream jetstream.Stream, filter string, stop uint64) (int, error) {
	var seqs []uint64
	err := scanStream(ctx, stream, scanRange{filters: []string{filter}, stop: stop}, func(_ jetstream.Msg, meta *jetstream.MsgMetadata) bool {
		seqs = append(seqs, meta.Sequence.Stream)
		return true
	})
	if err != nil {
		return 0, err
	}
	for i, seq := range seqs {
		err := stream.SecureDeleteMsg(ctx, seq)
		switch {
		case ctx.Err() != nil:
			return i, fmt.Errorf("%w: overwrote %d of %d events before the deadline; repeat the request with the same request id to continue", ErrTimeout, i, len(seqs))
		case errors.Is(err, jetstream.ErrMsgNotFound):
		case err != nil:
			return i, fmt.Errorf("%w: overwrite message %d: %v", ErrUnavailable, seq, err)
		}
	}
	return len(seqs), nil
}

// purgeCommands removes the revoke commands of user, after overwriting
// them when overwrite is set, and returns how many there were.
func (s *Service) purgeCommands(ctx context.Context, user string, overwrite bool) (uint64, error) {
	stream, err := s.cfg.JS.Stream(ctx, events.CommandStreamName)
	if err != nil {
		return 0, fmt.Errorf("%w: stream %s: %v", ErrUnavailable, events.CommandStreamName, err)
	}
	subject := events.CommandSubject(user)
	n, err := countSubject(ctx, stream, subject)
	if err != nil || n == 0 {
		return 0, err
	}
	if overwrite {
		if _, err := overwriteSubject(ctx, stream, subject, 0); err != nil {
			return 0, err
		}
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
		return 0, fmt.Errorf("%w: purge %s: %v", ErrUnavailable, subject, err)
	}
	return n, nil
}

// deleteDeadLetters deletes the dead letters that the projector copied
// from the account's subjects, which it recognises by their
// Clientele-Subject header.
func (s *Service) deleteDeadLetters(ctx context.Context, user string) (int, error) {
	name := events.DeadLetterStreamConfig(events.StreamOptions{}).Name
	stream, err := s.cfg.JS.Stream(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("%w: stream %s: %v", ErrUnavailable, name, err)
	}
	prefix := strings.TrimSuffix(events.UserFilter(user), ">")
	var seqs []uint64
	err = scanStream(ctx, stream, scanRange{}, func(msg jetstream.Msg, meta *jetstream.MsgMetadata) bool {
		if strings.HasPrefix(msg.Headers().Get(deadLetterSubjectHeader), prefix) {
			seqs = append(seqs, meta.Sequence.Stream)
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	for i, seq := range seqs {
		if err := stream.SecureDeleteMsg(ctx, seq); err != nil {
			return i, fmt.Errorf("%w: delete dead letter %d: %v", ErrUnavailable, seq, err)
		}
	}
	return len(seqs), nil
}

// deadLetterSubjectHeader is the header in which the projector records the
// original subject of a dead letter.
const deadLetterSubjectHeader = "Clientele-Subject"

// Forget erases the account req.User. Errors wrap ErrBadRequest,
// ErrUnavailable or ErrTimeout; after an error, repeat the call with the
// same req.RequestID.
func (c *Client) Forget(ctx context.Context, req ForgetRequest) (*ForgetReply, error) {
	if req.RequestID == "" {
		req.RequestID = events.NewID()
	}
	var reply ForgetReply
	if err := c.callScan(ctx, ForgetSubject, req, &reply); err != nil {
		return nil, err
	}
	return &reply, nil
}

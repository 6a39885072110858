package xmpp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/clientele-xmpp/clientele/query"
)

// Backend lists and revokes the clients of an account. query.Client
// satisfies it. Its errors are mapped to stanza errors: query.ErrNotFound to
// item-not-found, query.ErrBadRequest to bad-request, query.ErrTimeout and
// context.DeadlineExceeded to remote-server-timeout, and every other error
// to internal-server-error.
type Backend interface {
	List(ctx context.Context, req query.ListRequest) (*query.ListReply, error)
	Revoke(ctx context.Context, req query.RevokeRequest) (*query.RevokeReply, error)
}

// errBackendPanic reports a Backend call that panicked.
var errBackendPanic = errors.New("xmpp: backend call panicked")

// callBackend runs call with a deadline of timeout. It returns when call
// returns or when the deadline passes, whichever is first, so that a Backend
// that ignores its context still cannot hold up the reply. A result that is
// ready when the deadline passes is still returned.
func callBackend[T any](ctx context.Context, timeout time.Duration, call func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	type result struct {
		value T
		err   error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r.err = fmt.Errorf("%w: %v", errBackendPanic, p)
			}
			done <- r
		}()
		r.value, r.err = call(ctx)
	}()

	select {
	case r := <-done:
		return r.value, r.err
	case <-ctx.Done():
	}
	select {
	case r := <-done:
		return r.value, r.err
	default:
		var zero T
		return zero, ctx.Err()
	}
}

// maxTrackedUsers bounds the number of users in a seqTracker.
const maxTrackedUsers = 4096

// seqTracker stores the stream sequence of each user's latest confirmed
// revoke, so that the next list of that user waits until the projector that
// serves it has applied the revoke. It is safe for concurrent use.
type seqTracker struct {
	mu   sync.Mutex
	seqs map[string]uint64
}

func newSeqTracker() *seqTracker {
	return &seqTracker{seqs: make(map[string]uint64)}
}

// observe records seq for user if it is newer than the stored one.
func (t *seqTracker) observe(user string, seq uint64) {
	if seq == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()

	if _, ok := t.seqs[user]; !ok && len(t.seqs) >= maxTrackedUsers {
		// NOTE: clearing the map forgets the sequences of other users, whose
		// next list may then miss a revoke that another replica has not
		// applied yet. The revoke itself is stored either way.
		clear(t.seqs)
	}
	if seq > t.seqs[user] {
		t.seqs[user] = seq
	}
}

// minSeq returns the sequence of user's latest revoke, or 0 for none.
func (t *seqTracker) minSeq(user string) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seqs[user]
}

package projector

import (
	"slices"
	"time"
)

// Accounts returns the JIDs of every account in the view, sorted.
func (r *Runner) Accounts() []string {
	r.mu.RLock()
	users := make([]string, 0, len(r.state.Users))
	for user := range r.state.Users {
		users = append(users, user)
	}
	r.mu.RUnlock()
	slices.Sort(users)
	return users
}

// ClientsOf returns the listed clients of each of users at now, in the
// order of users, with the applied sequence and the view options used. It
// computes them under one read lock, so all of them reflect that sequence.
// An unknown user gets an empty list.
func (r *Runner) ClientsOf(users []string, now time.Time) ([][]ClientView, uint64, ViewOptions) {
	opt := r.viewOptions()
	opt.Now = now
	out := make([][]ClientView, len(users))
	r.mu.RLock()
	defer r.mu.RUnlock()
	for i, user := range users {
		out[i] = r.state.Clients(user, opt)
	}
	return out, r.applied, opt
}

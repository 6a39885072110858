package projector

import "slices"

// An ended session cannot become live again, so the fold drops it from
// Account.Sessions. It keeps only what the views need of it: its times,
// password login and user agent, summed up per client or grant in
// retiredSessions. A key of the session makes later copies of its events
// no-ops. Accounts with long histories then keep 8 bytes per ended session
// instead of a Session record.
//
// NOTE: sessions that end because their node restarted, stopped or fell
// silent stay in Sessions, because an event of such a session may still
// arrive, and so do the ended sessions of snapshots of format 2.

// retiredSessions sums up the ended sessions of one client record or, for
// sessions without a client id that logged in with a grant's token, of one
// grant record.
type retiredSessions struct {
	// client is the index of the client record, or noRecord when grant
	// names the grant record instead.
	client int32
	grant  int32

	start, last, password stamp
	agent                 agentHandle
	agentAt               stamp
}

// endedKey returns the key of the ended session id of node: the 64-bit
// FNV-1a hash of node, a zero byte and id. Snapshots store it, so it must
// not change between versions. The loop spares the allocations of
// hash/fnv on the path of every new session.
func endedKey(node, id string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := range len(node) {
		h = (h ^ uint64(node[i])) * prime
	}
	h *= prime // The zero byte between node and id, since h ^ 0 is h.
	for i := range len(id) {
		h = (h ^ uint64(id[i])) * prime
	}
	return h
}

// sessionEnded reports whether the session id of node ended and was
// dropped.
func (a *Account) sessionEnded(node, id string) bool {
	if a.extra == nil || len(a.extra.ended) == 0 {
		return false
	}
	_, found := slices.BinarySearch(a.extra.ended, endedKey(node, id))
	return found
}

// retire drops the ended session at index i from a.Sessions and adds what
// the views need of it to the summary of its client or grant.
func (a *Account) retire(i int) {
	ss := &a.Sessions[i]
	x := a.rare()
	key := endedKey(ss.Node, ss.ID)
	if at, found := slices.BinarySearch(x.ended, key); !found {
		x.ended = slices.Insert(x.ended, at, key)
	}
	if r := a.retiredFor(ss); r != nil {
		r.start = minNonZero(r.start, ss.start)
		r.last = r.last.max(ss.last)
		r.password = r.password.max(ss.password)
		if (agentAt{agentOf(ss.agent), ss.agentAt}).newer(agentAt{agentOf(r.agent), r.agentAt}) {
			r.agent, r.agentAt = ss.agent, ss.agentAt
		}
	}
	a.removeSession(i)
}

// retiredFor returns the summary that session ss belongs to, creating it,
// or nil for a session that belongs to no client, which no view shows.
// The choice follows groups: a session without a client id that logged in
// with a grant's token belongs to that grant.
func (a *Account) retiredFor(ss *Session) *retiredSessions {
	client, grant := ss.client, int32(noRecord)
	switch {
	case ss.grant != noRecord && !a.hasClientID(ss):
		client, grant = noRecord, ss.grant
	case ss.client == noRecord:
		return nil
	}
	x := a.rare()
	for k := range x.retired {
		if r := &x.retired[k]; r.client == client && r.grant == grant {
			return r
		}
	}
	x.retired = append(x.retired, retiredSessions{client: client, grant: grant})
	return &x.retired[len(x.retired)-1]
}

// removeSession removes the session at index i, moving the last session
// into its place.
func (a *Account) removeSession(i int) {
	last := len(a.Sessions) - 1
	ix := a.index()
	if ix != nil {
		delete(ix.sessions, sessionRef{a.Sessions[i].Node, a.Sessions[i].ID})
	}
	if i != last {
		a.Sessions[i] = a.Sessions[last]
		if ix != nil {
			ix.sessions[sessionRef{a.Sessions[i].Node, a.Sessions[i].ID}] = int32(i)
		}
	}
	a.Sessions[last] = Session{}
	a.Sessions = a.Sessions[:last]
	if last == 0 {
		// An account without sessions holds no array for them, as one
		// decoded from a snapshot does not.
		a.Sessions = nil
	}
}

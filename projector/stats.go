package projector

// Stats are counts over the folded state at one time, for metrics.
type Stats struct {
	// Users is the number of accounts in the state, deleted ones included.
	Users int
	// Clients counts the listed clients by kind.
	Clients map[ClientKind]int
	// ConnectedSessions counts the sessions that are bound or hibernated
	// and not ended by a revoke, a node restart or a silent node.
	ConnectedSessions int
	// LiveNodes counts the nodes that sent node events, have not stopped
	// since their last start and, when a heartbeat timeout is set, sent an
	// event within it.
	LiveNodes int
}

// ClientKind is the type and legacy flag of a listed client.
type ClientKind struct {
	Type   string
	Legacy bool
}

// statsBatch is the number of accounts that Stats counts between two calls
// of its pause function.
const statsBatch = 1000

// Stats counts the accounts, listed clients, connected sessions and live
// nodes of s at opt.Now. It calls pause, when not nil, after every
// statsBatch accounts, so that a caller that holds a lock can release it
// for a moment. The caller may change s during pause: accounts added then
// may or may not be counted, and accounts removed then are not.
func (s *State) Stats(opt ViewOptions, pause func()) Stats {
	st := Stats{Clients: make(map[ClientKind]int)}
	counted := 0
	for user, a := range s.Users {
		st.Users++
		s.addAccountStats(user, a, opt, &st)
		if counted++; pause != nil && counted%statsBatch == 0 {
			pause()
		}
	}
	for _, n := range s.Nodes {
		if n.live(opt) {
			st.LiveNodes++
		}
	}
	return st
}

func (s *State) addAccountStats(user string, a *Account, opt ViewOptions, st *Stats) {
	for _, g := range a.groups() {
		v, ok := s.view(user, a, g, opt)
		if !ok {
			continue
		}
		st.Clients[ClientKind{Type: v.Type, Legacy: v.Legacy}]++
		revoked := a.revokedAt(v.ID)
		for _, ss := range g.sessions {
			if s.sessionLive(a, ss, revoked, opt) {
				st.ConnectedSessions++
			}
		}
	}
}

// live reports whether n has announced itself with node events, was not
// stopped after its newest start, and was heard from within the heartbeat
// timeout.
func (n *Node) live(opt ViewOptions) bool {
	if !n.Lifecycle {
		return false
	}
	if !n.Stopped.IsZero() && !n.Started.After(n.Stopped) {
		return false
	}
	return opt.HeartbeatTimeout <= 0 || opt.Now.Sub(n.LastSeen) <= opt.HeartbeatTimeout
}

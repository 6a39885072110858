package projector

import "github.com/clientele-xmpp/clientele/events"

// Forget drops every account whose user key (events.UserKey) is userKey,
// with all of its sessions, clients, grants, FAST tokens and revokes, and
// returns the number of accounts dropped. Node state stays, because it
// belongs to no account. Apply calls it for account.forgotten. Unlike the
// rest of the fold it depends on order, because events applied after it
// build the account anew.
func (s *State) Forget(userKey string) int {
	dropped := 0
	for user := range s.Users {
		if events.UserKey(user) == userKey {
			delete(s.Users, user)
			dropped++
		}
	}
	return dropped
}

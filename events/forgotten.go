package events

import (
	"time"
)

// ForgottenSubjectPrefix starts the subjects of account.forgotten events,
// which sit outside every account's subject filter so that purging an
// account's events keeps its tombstone.
const ForgottenSubjectPrefix = SubjectPrefix + ".forgotten"

// userKeyLen is the length of a key returned by Key.
const userKeyLen = 16

// ForgottenSubject returns the subject of the tombstone of the account with
// user key userKey.
func ForgottenSubject(userKey string) string {
	return ForgottenSubjectPrefix + "." + userKey
}

// UserKey returns the user key of user, a bare JID in normalised form. The
// key is the subject token that names the account, and the only name of the
// account that its tombstone keeps.
func UserKey(user string) string {
	_, u := UserKeys(user)
	return u
}

// NewForgotten returns the tombstone event of user: an account.forgotten
// event that carries the account's user key and no JID. node is the id of
// the publishing service, actor who asked for the erasure, and id the event
// id, which is also the request id.
func NewForgotten(id, node, user, actor string, t time.Time) *Event {
	return &Event{
		ID: id, Type: AccountForgotten, V: Version, Time: t, Node: node,
		UserKey: UserKey(user), Actor: actor, Request: id,
	}
}

// checkUserKey checks the user_key field: required and in the form of Key
// on account.forgotten, and absent on every other type.
func checkUserKey(e *Event, required bool) error {
	if !required {
		if e.UserKey != "" {
			return invalid("user_key", e.UserKey, "only account.forgotten carries a user key; remove it")
		}
		return nil
	}
	if e.UserKey == "" {
		return invalid("user_key", "", "missing; account.forgotten requires the user key of the erased account")
	}
	if !isKey(e.UserKey) {
		return invalid("user_key", e.UserKey, "must be 16 characters of lowercase base32 (a-z, 2-7), as events.Key returns")
	}
	return nil
}

func isKey(s string) bool {
	if len(s) != userKeyLen {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z') && !(r >= '2' && r <= '7') {
			return false
		}
	}
	return true
}

package events

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"

	"mellium.im/xmpp/jid"
)

// Subject prefixes and stream names.
const (
	StreamName         = "CLIENTELE_EVENTS"
	CommandStreamName  = "CLIENTELE_COMMANDS"
	SubjectPrefix      = "clientele.events"
	UserSubjectPrefix  = SubjectPrefix + ".user"
	NodeSubjectPrefix  = SubjectPrefix + ".node"
	CommandPrefix      = "clientele.commands"
	DeadLetterSubject  = "clientele.deadletter"
	AllEventsSubject   = SubjectPrefix + ".>"
	AllCommandsSubject = CommandPrefix + ".>"
)

var keyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Key returns the subject token for s: 16 lowercase base32 characters of its
// SHA-256. It keeps dots and other JID characters out of subjects.
func Key(s string) string {
	sum := sha256.Sum256([]byte(s))
	return strings.ToLower(keyEncoding.EncodeToString(sum[:10]))
}

// UserKeys returns the domain key and user key of a bare JID in normalised
// form, as Validate leaves it.
func UserKeys(user string) (domainKey, userKey string) {
	domain := user
	if i := strings.LastIndexByte(user, '@'); i >= 0 {
		domain = user[i+1:]
	}
	return Key(domain), Key(user)
}

// Subject returns the subject on which e is published. e must be valid.
func Subject(e *Event) string {
	if e.Type.IsNode() {
		return NodeSubjectPrefix + "." + e.Node + "." + string(e.Type)
	}
	d, u := UserKeys(e.User)
	return UserSubjectPrefix + "." + d + "." + u + "." + string(e.Type)
}

// UserFilter returns the subject filter that matches every event of user.
func UserFilter(user string) string {
	d, u := UserKeys(user)
	return UserSubjectPrefix + "." + d + "." + u + ".>"
}

// CommandSubject returns the subject of revoke commands for user.
func CommandSubject(user string) string {
	d, u := UserKeys(user)
	return CommandPrefix + "." + d + "." + u
}

// DomainCommandFilter returns the subject filter that matches the commands of
// every account of domain, for a node that serves that domain.
func DomainCommandFilter(domain string) string {
	return CommandPrefix + "." + Key(normaliseDomain(domain)) + ".*"
}

func normaliseDomain(domain string) string {
	j, err := jid.Parse(domain)
	if err != nil {
		return strings.ToLower(domain)
	}
	return j.Domainpart()
}

// NormaliseUser parses user as an account JID and returns its normalised
// bare form. It returns an error wrapping ErrInvalid that names the value.
func NormaliseUser(user string) (string, error) {
	e := Event{User: user}
	if err := validateUser(&e, true); err != nil {
		return "", err
	}
	return e.User, nil
}

package events

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"sync"

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
	var key [16]byte
	keyEncoding.Encode(key[:], sum[:10])
	for i, c := range key {
		if 'A' <= c && c <= 'Z' {
			key[i] = c + 'a' - 'A'
		}
	}
	return string(key[:])
}

// UserKeys returns the domain key and user key of a bare JID in normalised
// form, as Validate leaves it.
func UserKeys(user string) (domainKey, userKey string) {
	domain := user
	if i := strings.LastIndexByte(user, '@'); i >= 0 {
		domain = user[i+1:]
	}
	return cachedDomainKey(domain), Key(user)
}

// maxCachedDomains bounds the domain keys that cachedDomainKey keeps. A
// deployment serves a few domains, so the bound only stops input with
// many domains from growing the cache without limit.
const maxCachedDomains = 1024

// domainKeys caches the keys of domains, so that a subject costs one hash
// instead of two.
var domainKeys = struct {
	sync.RWMutex
	keys map[string]string
}{keys: make(map[string]string)}

// cachedDomainKey returns Key(domain), from the cache when it holds it.
func cachedDomainKey(domain string) string {
	domainKeys.RLock()
	key, ok := domainKeys.keys[domain]
	domainKeys.RUnlock()
	if ok {
		return key
	}
	key = Key(domain)
	domainKeys.Lock()
	if len(domainKeys.keys) < maxCachedDomains {
		domainKeys.keys[strings.Clone(domain)] = key
	}
	domainKeys.Unlock()
	return key
}

// Subject returns the subject on which e is published. e must be valid.
func Subject(e *Event) string {
	if e.Type == AccountForgotten {
		return ForgottenSubject(e.UserKey)
	}
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

package events

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"mellium.im/xmpp/jid"
)

// MaxFieldLen is the maximum length in bytes of any string field of an event.
const MaxFieldLen = 1024

// FieldError is a validation failure of one field. It wraps ErrInvalid, or
// ErrUnknownType or ErrNewerVersion for the type and v fields.
type FieldError struct {
	Field  string
	Value  string
	Reason string
	err    error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%v: field %q: value %q: %s", e.err, e.Field, e.Value, e.Reason)
}

func (e *FieldError) Unwrap() error { return e.err }

func invalid(field, value, reason string) error {
	return &FieldError{Field: field, Value: truncate(value), Reason: reason, err: ErrInvalid}
}

func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// bodyRule lists the body fields that one event type requires.
type bodyRule struct {
	user, clientID, sessionID, resource, grantID, fingerprint, target, boot bool
	userKey                                                                 bool
}

var rules = map[Type]bodyRule{
	AuthPassword:      {user: true, sessionID: true},
	AuthToken:         {user: true, sessionID: true, grantID: true},
	AuthFast:          {user: true, sessionID: true, clientID: true},
	GrantIssued:       {user: true, grantID: true},
	GrantUsed:         {user: true, grantID: true},
	GrantRevoked:      {user: true, grantID: true},
	GrantExpired:      {user: true, grantID: true},
	FastMinted:        {user: true, clientID: true, fingerprint: true},
	FastRevoked:       {user: true, fingerprint: true},
	SessionBound:      {user: true, sessionID: true, resource: true},
	SessionHibernated: {user: true, sessionID: true},
	SessionResumed:    {user: true, sessionID: true},
	SessionUnbound:    {user: true, sessionID: true},
	PasswordChanged:   {user: true},
	ClientRevoked:     {user: true, target: true},
	AccountDeleted:    {user: true},
	NodeStarted:       {boot: true},
	NodeHeartbeat:     {},
	NodeStopped:       {},
	AccountForgotten:  {userKey: true},
}

// Validate checks e against the rules of its type and normalises its user
// JID in place. The error names the first field that fails, its value and
// the rule; it wraps ErrUnknownType, ErrNewerVersion or ErrInvalid.
func Validate(e *Event) error {
	if err := validateEnvelope(e); err != nil {
		return err
	}
	rule := rules[e.Type]
	if err := validateUser(e, rule.user); err != nil {
		return err
	}
	if err := validateBody(e, rule); err != nil {
		return err
	}
	return validateLengths(e)
}

func validateEnvelope(e *Event) error {
	if e.V > Version {
		return &FieldError{Field: "v", Value: fmt.Sprint(e.V), Reason: fmt.Sprintf("this build reads versions up to %d; upgrade clientele", Version), err: ErrNewerVersion}
	}
	if e.V < 1 {
		return invalid("v", fmt.Sprint(e.V), fmt.Sprintf("must be between 1 and %d", Version))
	}
	if !e.Type.Known() {
		return &FieldError{Field: "type", Value: truncate(string(e.Type)), Reason: "not a known event type; see the list of types in the events package", err: ErrUnknownType}
	}
	if err := checkID("id", e.ID); err != nil {
		return err
	}
	if e.Time.IsZero() {
		return invalid("time", "", "missing; set an RFC 3339 time with sub-second precision")
	}
	return checkToken("node", e.Node)
}

func validateUser(e *Event, required bool) error {
	if !required {
		if e.User != "" {
			return invalid("user", e.User, "must be empty on "+string(e.Type)+" events")
		}
		return nil
	}
	if e.User == "" {
		return invalid("user", "", "missing; set the account's bare JID")
	}
	if isNormalBareJID(e.User) {
		return nil
	}
	return validateUserFull(e)
}

// validateUserFull checks and normalises e.User with jid.Parse.
func validateUserFull(e *Event) error {
	j, err := jid.Parse(e.User)
	if err != nil {
		return invalid("user", e.User, "not a valid JID: "+err.Error())
	}
	if j.Localpart() == "" {
		return invalid("user", e.User, "must be an account JID with a localpart, such as alice@example.org")
	}
	if j.Resourcepart() != "" {
		return invalid("user", e.User, "must be a bare JID; remove the resource")
	}
	e.User = j.String()
	return nil
}

func validateBody(e *Event, rule bodyRule) error {
	if rule.clientID && e.ClientID() == "" {
		return invalid("client.id", "", "missing; "+string(e.Type)+" requires the SASL2 client id")
	}
	if rule.sessionID {
		if e.Session == nil || e.Session.ID == "" {
			return invalid("session.id", "", "missing; "+string(e.Type)+" requires the node-local session id")
		}
		if err := checkID("session.id", e.Session.ID); err != nil {
			return err
		}
	}
	if rule.resource && (e.Session == nil || e.Session.Resource == "") {
		return invalid("session.resource", "", "missing; "+string(e.Type)+" requires the bound resource")
	}
	if rule.grantID && (e.Grant == nil || e.Grant.ID == "") {
		return invalid("grant.id", "", "missing; "+string(e.Type)+" requires the grant id")
	}
	if e.Grant != nil {
		if err := checkPermission(e.Grant.Permission); err != nil {
			return err
		}
	}
	if rule.fingerprint && (e.Fast == nil || e.Fast.Fingerprint == "") {
		return invalid("fast.fingerprint", "", "missing; "+string(e.Type)+" requires the token fingerprint")
	}
	if rule.target && e.Target == "" {
		return invalid("target", "", "missing; client.revoked requires the listing id of the client")
	}
	if rule.boot && e.Boot == "" {
		return invalid("boot", "", "missing; node.started requires a boot id that is new on every start")
	}
	return checkUserKey(e, rule.userKey)
}

func checkPermission(p string) error {
	switch p {
	case "", PermissionUnrestricted, PermissionNormal, PermissionRestricted:
		return nil
	}
	return invalid("grant.permission", p, "must be unrestricted, normal or restricted")
}

// checkID accepts printable identifiers without spaces, as used for event
// ids (which are also sent as the Nats-Msg-Id header) and session ids.
func checkID(field, v string) error {
	if v == "" {
		return invalid(field, "", "missing")
	}
	if len(v) > 128 {
		return invalid(field, v, "longer than 128 bytes")
	}
	if !utf8.ValidString(v) {
		return invalid(field, v, "not valid UTF-8")
	}
	if !isPrintableASCII(v) && strings.IndexFunc(v, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return invalid(field, v, "must not contain spaces or control characters")
	}
	return nil
}

// isPrintableASCII reports whether v has only ASCII characters from '!'
// to '~', the common case that checkID accepts without decoding runes.
func isPrintableASCII(v string) bool {
	for i := range len(v) {
		if v[i] < '!' || v[i] > '~' {
			return false
		}
	}
	return true
}

// checkToken accepts values that are safe as one NATS subject token.
func checkToken(field, v string) error {
	if v == "" {
		return invalid(field, "", "missing; set the publishing node's id")
	}
	if len(v) > 64 {
		return invalid(field, v, "longer than 64 bytes")
	}
	for _, r := range v {
		ok := r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return invalid(field, v, "may contain only letters, digits, '-' and '_'")
		}
	}
	return nil
}

func validateLengths(e *Event) error {
	// The array keeps the list of at most 20 fields off the heap.
	var buf [20]struct{ name, value string }
	fields := append(buf[:0], []struct{ name, value string }{
		{"mechanism", e.Mechanism}, {"reason", e.Reason}, {"boot", e.Boot},
		{"target", e.Target}, {"actor", e.Actor}, {"request", e.Request}, {"ip", e.IP},
	}...)
	if c := e.Client; c != nil {
		fields = append(fields, []struct{ name, value string }{
			{"client.id", c.ID}, {"client.software", c.Software}, {"client.version", c.Version},
			{"client.uri", c.URI}, {"client.device", c.Device},
		}...)
	}
	if s := e.Session; s != nil {
		fields = append(fields, []struct{ name, value string }{
			{"session.id", s.ID}, {"session.resource", s.Resource},
		}...)
	}
	if g := e.Grant; g != nil {
		fields = append(fields, []struct{ name, value string }{
			{"grant.id", g.ID}, {"grant.name", g.Name}, {"grant.uri", g.URI},
			{"grant.software_id", g.SoftwareID}, {"grant.software_version", g.SoftwareVersion},
		}...)
	}
	if f := e.Fast; f != nil {
		fields = append(fields, struct{ name, value string }{"fast.fingerprint", f.Fingerprint})
	}
	for _, f := range fields {
		if len(f.value) > MaxFieldLen {
			return invalid(f.name, f.value, fmt.Sprintf("longer than %d bytes", MaxFieldLen))
		}
		// JSON carries only UTF-8: an invalid byte would arrive as U+FFFD,
		// so the stored event would differ from the one published.
		if !utf8.ValidString(f.value) {
			return invalid(f.name, f.value, "not valid UTF-8")
		}
	}
	return nil
}

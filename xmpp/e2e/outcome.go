package e2e

import (
	"encoding/json"
	"fmt"
)

// Values of Outcome.Error.
const (
	// OutcomeTimeout: no matching reply arrived within ClientSpec.Timeout.
	OutcomeTimeout = "timeout"
	// OutcomeStanzaError: the reply was an IQ of type error, described in
	// Outcome.StanzaError.
	OutcomeStanzaError = "stanza"
	// OutcomeNotConnected: the stream had ended before the action ran.
	OutcomeNotConnected = "not connected"
)

// Values of Event.Event.
const (
	EventOnline           = "online"
	EventLoginFailed      = "login-failed"
	EventConnectionFailed = "connection-failed"
	EventStreamError      = "stream-error"
	EventDisconnected     = "disconnected"
)

// Action is one request that client.py sends as an IQ. Build it with List,
// Revoke, Disco, Ping or RawIQ.
type Action struct {
	Op string `json:"op"`
	// NS is the namespace of a list or revoke request.
	NS string `json:"ns,omitempty"`
	// To is the IQ's "to" attribute; the IQ has none when To is empty.
	To string `json:"to,omitempty"`
	// ID is the id attribute of <revoke/>, sent even when empty.
	ID string `json:"id"`
	// Node is the disco#info node; none when empty.
	Node string `json:"node,omitempty"`
	// Type is the IQ type of a raw IQ: "get" or "set".
	Type string `json:"type,omitempty"`
	// Payload is the XML child of a raw IQ.
	Payload string `json:"payload,omitempty"`
}

// List returns an action that sends <list xmlns=ns/> in an IQ get.
func List(ns, to string) Action { return Action{Op: "list", NS: ns, To: to} }

// Revoke returns an action that sends <revoke xmlns=ns id=id/> in an IQ set.
func Revoke(ns, to, id string) Action { return Action{Op: "revoke", NS: ns, To: to, ID: id} }

// Disco returns an action that sends a disco#info query, to node if it is
// not empty.
func Disco(to, node string) Action { return Action{Op: "disco", To: to, Node: node} }

// Ping returns an action that sends an XEP-0199 ping.
func Ping(to string) Action { return Action{Op: "ping", To: to} }

// RawIQ returns an action that sends payload, an XML element, in an IQ of
// type iqType ("get" or "set"). It covers malformed and unexpected requests.
func RawIQ(iqType, to, payload string) Action {
	return Action{Op: "iq", Type: iqType, To: to, Payload: payload}
}

// Outcome is the result of one Action as client.py observed it.
type Outcome struct {
	// Action is the index of the action in the order the client ran them.
	Action int    `json:"action"`
	Op     string `json:"op"`
	To     string `json:"to"`
	// ID is the id of the request IQ.
	ID string `json:"id"`
	// Error is empty for a result, else OutcomeTimeout, OutcomeStanzaError,
	// OutcomeNotConnected or "invalid action: …".
	Error string `json:"error"`
	// From is the reply's "from" attribute; empty when it had none.
	From string `json:"from"`
	// XML is the reply stanza as received.
	XML         string       `json:"xml"`
	StanzaError *StanzaError `json:"stanza_error"`
	// Payload is the first child of a result IQ; nil for an empty result.
	Payload *Element `json:"payload"`
	// Clients is the parsed <clients/> of a list result; nil when the
	// result had no <clients/> element in the request's namespace.
	Clients []Client `json:"clients"`
	// Features and Identities are parsed from a disco#info result.
	Features   []string   `json:"features"`
	Identities []Identity `json:"identities"`
	// Unmatched are replies with the request's id that slixmpp rejected,
	// for example because of an unexpected "from". It is set on timeouts
	// only.
	Unmatched []string `json:"unmatched"`
}

// OK reports whether the action got a result IQ.
func (o Outcome) OK() bool { return o.Error == "" }

// Condition returns the stanza error condition, or "" when there is none.
func (o Outcome) Condition() string {
	if o.StanzaError == nil {
		return ""
	}
	return o.StanzaError.Condition
}

// String describes the outcome for test failure messages.
func (o Outcome) String() string {
	head := fmt.Sprintf("action %d %s to=%q", o.Action, o.Op, o.To)
	switch {
	case o.OK():
		return head + ": result " + o.XML
	case o.StanzaError != nil:
		return fmt.Sprintf("%s: error %s/%s: %s", head, o.StanzaError.Type, o.StanzaError.Condition, o.XML)
	case len(o.Unmatched) > 0:
		return fmt.Sprintf("%s: %s (unmatched replies: %v)", head, o.Error, o.Unmatched)
	default:
		return head + ": " + o.Error
	}
}

// StanzaError is the <error/> child of an IQ of type error.
type StanzaError struct {
	Type string `json:"type"`
	By   string `json:"by"`
	// Condition is the first child other than <text/>, and ConditionNS its
	// namespace, which RFC 6120 requires to be NSStanzas.
	Condition   string `json:"condition"`
	ConditionNS string `json:"condition_ns"`
	Text        string `json:"text"`
	// AppName and AppNS are the application-specific condition, such as
	// password-reset-required in the request's namespace.
	AppName string `json:"app_name"`
	AppNS   string `json:"app_ns"`
}

// Client is one <client/> of a list result. Every attribute is in Attrs, and
// every child that is not parsed into its own field is in Other.
type Client struct {
	ID        string            `json:"id"`
	Connected string            `json:"connected"`
	Type      string            `json:"type"`
	Attrs     map[string]string `json:"attrs"`
	// FirstSeen and LastSeen are the text of <first-seen/> and
	// <last-seen/>; empty when the element is missing or empty.
	FirstSeen string `json:"first_seen"`
	LastSeen  string `json:"last_seen"`
	// Auth lists the children of <auth/>; nil when <auth/> is missing.
	Auth       []Name      `json:"auth"`
	UserAgent  *UserAgent  `json:"user_agent"`
	Permission *Permission `json:"permission"`
	// Other contains unknown children, children in other namespaces and
	// repeats of known children.
	Other []Element `json:"other"`
}

// Name is an XML element name.
type Name struct {
	Name string `json:"name"`
	NS   string `json:"ns"`
}

// UserAgent is the <user-agent/> of a client.
type UserAgent struct {
	// Fields maps the local name of each child in the request's namespace
	// (software, uri, device) to its text.
	Fields map[string]string `json:"fields"`
	Other  []Element         `json:"other"`
}

// Permission is the <permission/> of a client.
type Permission struct {
	Status   string    `json:"status"`
	Children []Element `json:"children"`
}

// Identity is a disco#info identity.
type Identity struct {
	Category string `json:"category"`
	Type     string `json:"type"`
	Name     string `json:"name"`
}

// Element is an XML element with its subtree. Text is trimmed of
// surrounding whitespace.
type Element struct {
	Name     string            `json:"name"`
	NS       string            `json:"ns"`
	Attrs    map[string]string `json:"attrs"`
	Text     string            `json:"text"`
	Children []Element         `json:"children"`
}

// Event is a line of client.py about the connection rather than an action.
type Event struct {
	// Event is one of the Event* constants.
	Event string `json:"event"`
	// JID is the bound full JID of an online event.
	JID   string `json:"jid"`
	Error string `json:"error"`
	// Condition and Text describe a stream error.
	Condition string `json:"condition"`
	Text      string `json:"text"`
	// By is "client" or "server" on a disconnected event: which side ended
	// the stream.
	By     string `json:"by"`
	Reason string `json:"reason"`
}

// parseLine decodes one output line of client.py into an Event or an Outcome.
func parseLine(line []byte) (*Event, *Outcome, error) {
	var probe struct {
		Event  string `json:"event"`
		Action *int   `json:"action"`
	}
	if err := json.Unmarshal(line, &probe); err != nil {
		return nil, nil, fmt.Errorf("%w: %v: %q", ErrClientOutput, err, line)
	}
	if probe.Event == "" && probe.Action == nil {
		return nil, nil, fmt.Errorf("%w: neither event nor action: %q", ErrClientOutput, line)
	}
	if probe.Event != "" {
		var ev Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return nil, nil, fmt.Errorf("%w: %v: %q", ErrClientOutput, err, line)
		}
		return &ev, nil, nil
	}
	var out Outcome
	if err := json.Unmarshal(line, &out); err != nil {
		return nil, nil, fmt.Errorf("%w: %v: %q", ErrClientOutput, err, line)
	}
	return nil, &out, nil
}

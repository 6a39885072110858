package xmpp

import (
	"context"
	"encoding/xml"
	"errors"

	"mellium.im/xmpp/stanza"

	"github.com/clientele-xmpp/clientele/query"
)

// Sentinel errors of the package, wrapped with details.
var (
	// ErrInvalidConfig reports a HandlerConfig or ComponentConfig that is
	// missing a required field or has a field that cannot be parsed.
	ErrInvalidConfig = errors.New("xmpp: invalid configuration")
	// ErrNotElement reports a token stream passed to Handler.Reply that does
	// not start with a start element.
	ErrNotElement = errors.New("xmpp: stanza does not start with an element")
)

// stanzaError is the error of an IQ reply: a type and a defined condition in
// the urn:ietf:params:xml:ns:xmpp-stanzas namespace, and an optional
// application condition.
type stanzaError struct {
	typ       stanza.ErrorType
	condition stanza.Condition
	// app is the application condition element, or the zero name for none.
	app xml.Name
}

// Stanza errors of the error table. Requests about another account, and ids
// of another account, get the same error as ones that do not exist, so that
// accounts and ids cannot be probed.
var (
	errForbidden          = stanzaError{typ: stanza.Auth, condition: stanza.Forbidden}
	errItemNotFound       = stanzaError{typ: stanza.Cancel, condition: stanza.ItemNotFound}
	errBadRequest         = stanzaError{typ: stanza.Modify, condition: stanza.BadRequest}
	errNotImplemented     = stanzaError{typ: stanza.Cancel, condition: stanza.FeatureNotImplemented}
	errServiceUnavailable = stanzaError{typ: stanza.Cancel, condition: stanza.ServiceUnavailable}
	errInternal           = stanzaError{typ: stanza.Wait, condition: stanza.InternalServerError}
	errTimeout            = stanzaError{typ: stanza.Wait, condition: stanza.RemoteServerTimeout}
	errBusy               = stanzaError{typ: stanza.Wait, condition: stanza.ResourceConstraint}
	errTooLarge           = stanzaError{typ: stanza.Modify, condition: stanza.PolicyViolation}
)

// errPasswordResetRequired returns the error for a revoke of a client whose
// access includes the account password, with the application condition in
// the request namespace ns.
func errPasswordResetRequired(ns string) stanzaError {
	e := errServiceUnavailable
	e.app = xml.Name{Space: ns, Local: "password-reset-required"}
	return e
}

// backendError maps an error of a Backend call to the stanza error of the
// reply. Errors that are not listed, such as query.ErrUnavailable, become
// wait/internal-server-error, so that a failure never reads as success.
func backendError(err error) stanzaError {
	switch {
	case errors.Is(err, query.ErrNotFound):
		return errItemNotFound
	case errors.Is(err, query.ErrBadRequest):
		return errBadRequest
	case errors.Is(err, query.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return errTimeout
	default:
		return errInternal
	}
}

// element returns the <error/> element of e. Its name has no namespace, so
// that it takes the namespace of the stanza that contains it.
func (e stanzaError) element() *element {
	out := newElement(xml.Name{Local: "error"}, "type", string(e.typ))
	out.add(newElement(xml.Name{Space: stanza.NSError, Local: string(e.condition)}))
	if e.app.Local != "" {
		out.add(newElement(e.app))
	}
	return out
}

package xmpp

import (
	"context"
	"encoding/xml"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Namespaces of XEP-0355 namespace delegation and the wrappers it uses.
const (
	NSDelegation = "urn:xmpp:delegation:2"
	nsForward    = "urn:xmpp:forward:0"
	nsDelay      = "urn:xmpp:delay"
)

var (
	delegationName = xml.Name{Space: NSDelegation, Local: "delegation"}
	forwardedName  = xml.Name{Space: nsForward, Local: "forwarded"}
	delayName      = xml.Name{Space: nsDelay, Local: "delay"}
	innerIQName    = xml.Name{Space: stanza.NSClient, Local: "iq"}
)

// replyDelegated returns the reply to an IQ that the server forwarded in the
// <delegation/> element deleg. Errors about the wrapper go on the outer IQ,
// and everything about the request goes in the forwarded reply, because
// servers pass only the inner reply, with its application condition, on to
// the user.
func (h *Handler) replyDelegated(ctx context.Context, outer iqHeader, deleg *element) *element {
	server, ok := h.serverDomain(outer.from)
	if !ok {
		return outer.errorReply(errForbidden)
	}
	if outer.typ != string(stanza.SetIQ) {
		return outer.errorReply(errBadRequest)
	}
	inner, ok := forwardedIQ(deleg)
	if !ok {
		return outer.errorReply(errBadRequest)
	}
	innerHdr := headerOf(inner)
	if !innerHdr.isRequest() {
		return outer.errorReply(errBadRequest)
	}

	innerReply := h.replyForwarded(ctx, server, innerHdr, inner)
	return outer.resultReply(wrapDelegation(innerReply))
}

// replyForwarded returns the reply to the forwarded IQ inner, in the
// jabber:client namespace, addressed to the inner from. Its from is the
// inner to, or the user's bare JID when the inner IQ had no to.
func (h *Handler) replyForwarded(ctx context.Context, server string, hdr iqHeader, inner *element) *element {
	hdr.name = innerIQName
	if hdr.to == "" {
		if from, err := jid.Parse(hdr.from); err == nil {
			hdr.to = from.Bare().String()
		}
	}
	user, ok := h.delegatedUser(server, hdr)
	if !ok {
		return hdr.errorReply(errForbidden)
	}

	payload, ok := inner.onlyChild()
	if !ok {
		return hdr.errorReply(errBadRequest)
	}
	if !isProtocolNS(payload.name.Space) {
		return hdr.errorReply(errServiceUnavailable)
	}
	result, serr := h.serveRequest(ctx, user, hdr.typ, payload)
	return hdr.reply(result, serr)
}

// forwardedIQ returns the jabber:client IQ inside the <forwarded/> element
// that is the only child of deleg. A <delay/> next to the IQ is ignored.
func forwardedIQ(deleg *element) (*element, bool) {
	forwarded, ok := deleg.onlyChild()
	if !ok || forwarded.name != forwardedName {
		return nil, false
	}

	var iq *element
	for _, c := range forwarded.children {
		switch {
		case c.name == delayName:
		case c.name == innerIQName && iq == nil:
			iq = c
		default:
			return nil, false
		}
	}
	return iq, iq != nil
}

// wrapDelegation returns reply wrapped in <delegation/> and <forwarded/>.
// Each wrapper contains exactly one child, with no whitespace and no
// <delay/>, which is the form that Prosody 0.12.3 with mod_delegation was
// seen to pass on to the user.
func wrapDelegation(reply *element) *element {
	forwarded := newElement(forwardedName).add(reply)
	return newElement(delegationName).add(forwarded)
}

package xmpp

import (
	"encoding/xml"

	"mellium.im/xmpp/component"
	"mellium.im/xmpp/stanza"
)

// isIQName reports whether name is an IQ stanza in a namespace that a
// component stream may carry.
func isIQName(name xml.Name) bool {
	if name.Local != "iq" {
		return false
	}
	switch name.Space {
	case component.NSAccept, stanza.NSClient, stanza.NSServer, "":
		return true
	}
	return false
}

// iqHeader contains the attributes of an IQ, as received, that its reply
// needs.
type iqHeader struct {
	// name is the name of the IQ element, whose namespace the reply keeps.
	name xml.Name
	id   string
	typ  string
	from string
	to   string
}

func headerOf(iq *element) iqHeader {
	hdr := iqHeader{name: iq.name}
	hdr.id, _ = iq.attrValue("id")
	hdr.typ, _ = iq.attrValue("type")
	hdr.from, _ = iq.attrValue("from")
	hdr.to, _ = iq.attrValue("to")
	return hdr
}

// isRequest reports whether the IQ is a get or a set, which needs a reply.
func (hdr iqHeader) isRequest() bool {
	return hdr.typ == string(stanza.GetIQ) || hdr.typ == string(stanza.SetIQ)
}

// reply returns the error reply for serr when it is not nil, and otherwise
// the result reply with payload, which may be nil.
func (hdr iqHeader) reply(payload *element, serr *stanzaError) *element {
	if serr != nil {
		return hdr.errorReply(*serr)
	}
	return hdr.resultReply(payload)
}

// resultReply returns the result IQ to hdr, with the to and from attributes
// swapped, containing payload unless it is nil.
func (hdr iqHeader) resultReply(payload *element) *element {
	out := hdr.replyStart(stanza.ResultIQ)
	if payload != nil {
		out.add(payload)
	}
	return out
}

// errorReply returns the error IQ to hdr with the error serr.
func (hdr iqHeader) errorReply(serr stanzaError) *element {
	return hdr.replyStart(stanza.ErrorIQ).add(serr.element())
}

func (hdr iqHeader) replyStart(typ stanza.IQType) *element {
	return newElement(hdr.name, "type", string(typ), "id", hdr.id, "to", hdr.from, "from", hdr.to)
}

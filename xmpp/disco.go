package xmpp

import (
	"encoding/xml"
	"strings"

	"mellium.im/xmpp/stanza"
)

// Namespaces of the disco#info and ping services, which every XMPP entity
// is expected to serve.
const (
	nsDiscoInfo = "http://jabber.org/protocol/disco#info"
	nsPing      = "urn:xmpp:ping"
)

// Disco#info nodes that a XEP-0355 server queries after the handshake, each
// followed by a delegated namespace. The features of the bare-JID node show
// up in the disco#info of every account of the server.
const (
	delegationNodePrefix     = NSDelegation + "::"
	delegationBareNodePrefix = NSDelegation + ":bare:"
)

// Disco#info identity of the component. The XMPP Registrar's service
// discovery categories list the type generic in the category component for
// a component without a more specific type.
const (
	identityCategory = "component"
	identityType     = "generic"
	identityName     = "Client access management"
)

// features are the disco#info features of the component.
var features = []string{NSManageClients, NSCAM, nsDiscoInfo, NSDelegation, nsPing}

// replyService returns the reply payload or error for a disco#info query or
// a ping, which anyone may send. It returns false for any other payload.
func replyService(hdr iqHeader, payload *element) (*element, *stanzaError, bool) {
	if hdr.typ != string(stanza.GetIQ) {
		return nil, nil, false
	}
	switch payload.name {
	case xml.Name{Space: nsDiscoInfo, Local: "query"}:
		node, _ := payload.attrValue("node")
		result, serr := discoInfo(node)
		return result, serr, true
	case xml.Name{Space: nsPing, Local: "ping"}:
		return nil, nil, true
	}
	return nil, nil, false
}

// discoInfo returns the disco#info result for node. The node is empty for
// the component itself, or a delegation node of a protocol namespace, whose
// only feature is that namespace. Other nodes get item-not-found.
func discoInfo(node string) (*element, *stanzaError) {
	query := newElement(xml.Name{Space: nsDiscoInfo, Local: "query"}, "node", node)
	if node == "" {
		query.add(newElement(xml.Name{Local: "identity"},
			"category", identityCategory, "type", identityType, "name", identityName))
		for _, f := range features {
			query.add(featureElement(f))
		}
		return query, nil
	}

	ns, ok := strings.CutPrefix(node, delegationNodePrefix)
	if !ok {
		ns, ok = strings.CutPrefix(node, delegationBareNodePrefix)
	}
	if !ok || !isProtocolNS(ns) {
		return nil, fail(errItemNotFound)
	}
	return query.add(featureElement(ns)), nil
}

func featureElement(ns string) *element {
	return newElement(xml.Name{Local: "feature"}, "var", ns)
}

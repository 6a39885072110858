package xmpp

import (
	"encoding/xml"
	"time"
	"unicode/utf8"

	"github.com/clientele-xmpp/clientele/projector"
)

// Namespaces of the client access protocol. Both carry the same requests on
// the same data. Only NSCAM has the <permission/> element.
const (
	// NSManageClients is the namespace of Prosody's mod_client_management.
	NSManageClients = "xmpp:prosody.im/protocol/manage-clients"
	// NSCAM is the namespace of XEP-0494, Client Access Management, 0.1.0.
	NSCAM = "urn:xmpp:cam:0"
)

// NSLegacy is the namespace of <legacy/>, an extension element of clientele
// in a <client/> of a list reply in either namespace. It marks a legacy
// client: one without a SASL2 client id, tracked by its resource only,
// which is not unique to one client and is visible to the user's contacts.
// A client that does not know the namespace is expected to ignore it.
const NSLegacy = "https://github.com/clientele-xmpp/clientele/ns/legacy"

// Namespaces returns the namespaces of the client access protocol, for
// server configuration such as Prosody's delegations table.
func Namespaces() []string {
	return []string{NSManageClients, NSCAM}
}

func isProtocolNS(ns string) bool {
	return ns == NSManageClients || ns == NSCAM
}

// maxSelectorBytes is the maximum length of a revoke id. Listing ids and
// software selectors are far shorter, so a longer id cannot match a client
// and gets item-not-found without a Backend call.
const maxSelectorBytes = 1024

// validSelector reports whether id may be passed to the Backend: not empty,
// at most maxSelectorBytes long, and valid UTF-8.
func validSelector(id string) bool {
	return id != "" && len(id) <= maxSelectorBytes && utf8.ValidString(id)
}

// permissionUnrestricted is the XEP-0494 permission status of a client with
// full access, which a ClientView without a Permission has.
const permissionUnrestricted = "unrestricted"

// xep0082 is the XEP-0082 date-time layout in UTC with seconds precision.
const xep0082 = "2006-01-02T15:04:05Z"

// clientsElement returns the <clients/> payload of a list reply in the
// namespace ns.
func clientsElement(ns string, clients []projector.ClientView) *element {
	out := newElement(xml.Name{Space: ns, Local: "clients"})
	for i := range clients {
		out.add(clientElement(ns, &clients[i]))
	}
	return out
}

// clientElement returns the <client/> element of c. Its children take the
// namespace ns from it, and a zero first-seen or last-seen time is left out.
func clientElement(ns string, c *projector.ClientView) *element {
	typ := c.Type
	if typ == "" {
		typ = projector.TypeAccess
	}
	connected := "false"
	if c.Connected {
		connected = "true"
	}
	out := newElement(xml.Name{Space: ns, Local: "client"},
		"id", c.ID, "connected", connected, "type", typ)

	if !c.FirstSeen.IsZero() {
		out.add(newTextElement(xml.Name{Local: "first-seen"}, formatTime(c.FirstSeen)))
	}
	if !c.LastSeen.IsZero() {
		out.add(newTextElement(xml.Name{Local: "last-seen"}, formatTime(c.LastSeen)))
	}
	out.add(authElement(c.Auth))
	if ua := userAgentElement(c.UserAgent); ua != nil {
		out.add(ua)
	}
	if ns == NSCAM {
		status := c.Permission
		if status == "" {
			status = permissionUnrestricted
		}
		out.add(newElement(xml.Name{Local: "permission"}, "status", status))
	}
	if c.Legacy {
		out.add(newElement(xml.Name{Space: NSLegacy, Local: "legacy"}))
	}
	return out
}

// authElement returns <auth/> with one empty child per known method in
// methods. Methods without an element in these namespaces are left out.
func authElement(methods []string) *element {
	out := newElement(xml.Name{Local: "auth"})
	for _, m := range methods {
		switch m {
		case projector.AuthPassword, projector.AuthGrant, projector.AuthFast:
			out.add(newElement(xml.Name{Local: m}))
		}
	}
	return out
}

// userAgentElement returns <user-agent/> with the non-empty fields of ua, or
// nil when all of them are empty. The protocol has no element for the
// version.
func userAgentElement(ua projector.UserAgent) *element {
	out := newElement(xml.Name{Local: "user-agent"})
	fields := []struct{ name, value string }{
		{"software", ua.Software},
		{"uri", ua.URI},
		{"device", ua.Device},
	}
	for _, f := range fields {
		if f.value != "" {
			out.add(newTextElement(xml.Name{Local: f.name}, f.value))
		}
	}
	if len(out.children) == 0 {
		return nil
	}
	return out
}

func formatTime(t time.Time) string {
	return t.UTC().Format(xep0082)
}

package xmpp

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Addresses of the test deployment.
const (
	componentJID = "clients.example.test"
	serverDomain = "example.test"
	aliceFull    = "alice@example.test/gajim.ABC"
	bobFull      = "bob@example.test/dino.XYZ"
)

// node is a parsed XML element of a reply.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []node     `xml:",any"`
}

func (n node) attr(local string) string {
	for _, a := range n.Attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

func (n node) hasAttr(local string) bool {
	for _, a := range n.Attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return true
		}
	}
	return false
}

// child returns the first child named local in the namespace space.
func (n node) child(space, local string) (node, bool) {
	for _, c := range n.Nodes {
		if c.XMLName.Space == space && c.XMLName.Local == local {
			return c, true
		}
	}
	return node{}, false
}

func parseNode(t *testing.T, raw string) node {
	t.Helper()
	var n node
	if err := xml.Unmarshal([]byte(raw), &n); err != nil {
		t.Fatalf("parse reply %q: %v", raw, err)
	}
	return n
}

func newTestHandler(t *testing.T, b Backend, timeout time.Duration, domains ...string) *Handler {
	t.Helper()
	if len(domains) == 0 {
		domains = []string{serverDomain}
	}
	h, err := NewHandler(HandlerConfig{Backend: b, Domains: domains, RequestTimeout: timeout})
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	return h
}

// exchange passes stanza to h.Reply and returns the encoded reply, or "" when
// there is none.
func exchange(t *testing.T, h *Handler, stanza string) string {
	t.Helper()
	reply, err := h.Reply(context.Background(), xml.NewDecoder(strings.NewReader(stanza)))
	if err != nil {
		t.Fatalf("Reply(%s): %v", stanza, err)
	}
	if reply == nil {
		return ""
	}
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	for {
		tok, err := reply.Token()
		if tok != nil {
			if err := enc.EncodeToken(tok); err != nil {
				t.Fatalf("encode reply: %v", err)
			}
		}
		if err != nil {
			break
		}
	}
	if err := enc.Flush(); err != nil {
		t.Fatalf("flush reply: %v", err)
	}
	return buf.String()
}

// exchangeNode is exchange with the reply parsed. It fails the test when no
// reply is returned.
func exchangeNode(t *testing.T, h *Handler, stanza string) node {
	t.Helper()
	raw := exchange(t, h, stanza)
	if raw == "" {
		t.Fatalf("no reply to %s", stanza)
	}
	return parseNode(t, raw)
}

// attrs formats name, value pairs as XML attributes, leaving out empty
// values.
func attrs(pairs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			continue
		}
		fmt.Fprintf(&b, ` %s="`, pairs[i])
		_ = xml.EscapeText(&b, []byte(pairs[i+1]))
		b.WriteString(`"`)
	}
	return b.String()
}

// directIQ returns an IQ to the component as the server routes it.
func directIQ(typ, id, from, payload string) string {
	return directIQTo(typ, id, from, componentJID, payload)
}

func directIQTo(typ, id, from, to, payload string) string {
	return `<iq xmlns="jabber:component:accept"` + attrs("type", typ, "id", id, "from", from, "to", to) + `>` +
		payload + `</iq>`
}

// delegatedIQ returns a set IQ from outerFrom that forwards an IQ of the
// given type, id, from and to with payload, as a XEP-0355 server does.
func delegatedIQ(outerFrom, typ, id, from, to, payload string) string {
	inner := `<iq xmlns="jabber:client"` + attrs("type", typ, "id", id, "from", from, "to", to) + `>` +
		payload + `</iq>`
	return `<iq xmlns="jabber:component:accept"` +
		attrs("type", "set", "id", "deleg-1", "from", outerFrom, "to", componentJID) + `>` +
		`<delegation xmlns="urn:xmpp:delegation:2"><forwarded xmlns="urn:xmpp:forward:0">` +
		inner + `</forwarded></delegation></iq>`
}

func listPayload(ns string) string {
	return `<list xmlns="` + ns + `"/>`
}

func revokePayload(ns, id string) string {
	return `<revoke xmlns="` + ns + `"` + attrs("id", id) + `/>`
}

// wantResult checks that iq is a result reply.
func wantResult(t *testing.T, iq node) {
	t.Helper()
	if got := iq.attr("type"); got != "result" {
		t.Fatalf("reply type = %q, want result; reply: %+v", got, iq)
	}
}

// wantError checks that iq is an error reply with exactly the given error
// type and defined condition, and with the application condition
// password-reset-required in appNS, or no application condition when appNS
// is empty.
func wantError(t *testing.T, iq node, typ, condition, appNS string) {
	t.Helper()
	if got := iq.attr("type"); got != "error" {
		t.Fatalf("reply type = %q, want error; reply: %+v", got, iq)
	}
	if len(iq.Nodes) != 1 || iq.Nodes[0].XMLName.Local != "error" {
		t.Fatalf("reply children = %+v, want one <error/>", iq.Nodes)
	}
	e := iq.Nodes[0]
	if e.XMLName.Space != iq.XMLName.Space {
		t.Errorf("<error/> namespace = %q, want the stanza namespace %q", e.XMLName.Space, iq.XMLName.Space)
	}
	if got := e.attr("type"); got != typ {
		t.Errorf("error type = %q, want %q", got, typ)
	}
	if _, ok := e.child("urn:ietf:params:xml:ns:xmpp-stanzas", condition); !ok {
		t.Errorf("error children = %+v, want condition %s", e.Nodes, condition)
	}

	wantChildren := 1
	if appNS != "" {
		wantChildren = 2
		if _, ok := e.child(appNS, "password-reset-required"); !ok {
			t.Errorf("error children = %+v, want <password-reset-required xmlns=%q/>", e.Nodes, appNS)
		}
	}
	if len(e.Nodes) != wantChildren {
		t.Errorf("error has %d children, want %d: %+v", len(e.Nodes), wantChildren, e.Nodes)
	}
}

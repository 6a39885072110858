package e2e

import (
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/component"
	"mellium.im/xmpp/jid"
)

// Namespaces that mod_delegation uses towards the component.
const (
	nsDelegation = "urn:xmpp:delegation:2"
	nsForward    = "urn:xmpp:forward:0"
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
)

// fakeHangPayload is a request payload that fakeComponent never replies to.
const fakeHangPayload = `<hang xmlns='urn:example:hang'/>`

// fakeClientList is the <client/> that fakeComponent returns for every list
// request. The format verb %[1]s is replaced by the request's namespace.
const fakeClientList = `<clients xmlns='%[1]s'>` +
	`<client id='client/fake-1' connected='true' type='session'>` +
	`<first-seen>2026-01-02T03:04:05Z</first-seen>` +
	`<last-seen>2026-01-03T04:05:06Z</last-seen>` +
	`<auth><password/><fast/></auth>` +
	`<user-agent><software>Gajim</software><uri>https://gajim.org/</uri><device>laptop</device></user-agent>` +
	`<permission status='unrestricted'/>` +
	`<extra xmlns='urn:example:extra'>x</extra>` +
	`</client>` +
	`</clients>`

// fakeComponent is a stand-in for clientele's XMPP handler, used only to
// check that the harness decodes replies that travel back through Prosody's
// delegation. It replies to every delegated list with fakeClientList, and to
// every delegated revoke with service-unavailable and password-reset-required.
type fakeComponent struct {
	session *xmpp.Session
	done    chan error

	mu       sync.Mutex
	requests []xmlNode
}

// xmlNode is an element with its whole subtree.
type xmlNode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []xmlNode  `xml:",any"`
}

func (n xmlNode) attr(local string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

func (n xmlNode) child(space, local string) (xmlNode, bool) {
	for _, c := range n.Children {
		if c.XMLName.Space == space && c.XMLName.Local == local {
			return c, true
		}
	}
	return xmlNode{}, false
}

// connectComponent dials p's component port and completes the XEP-0114
// handshake with jidText and secret.
func connectComponent(ctx context.Context, p *Prosody, jidText, secret string) (*xmpp.Session, error) {
	addr, err := jid.Parse(jidText)
	if err != nil {
		return nil, err
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", p.ComponentAddr)
	if err != nil {
		return nil, err
	}
	session, err := component.NewSession(ctx, addr, []byte(secret), conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return session, nil
}

// startFakeComponent connects a fakeComponent to p and serves until the test
// ends.
func startFakeComponent(t *testing.T, p *Prosody) *fakeComponent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	session, err := connectComponent(ctx, p, p.ComponentJID, p.ComponentSecret)
	if err != nil {
		t.Fatalf("fake component: connect: %v", err)
	}

	f := &fakeComponent{session: session, done: make(chan error, 1)}
	go func() { f.done <- session.Serve(xmpp.HandlerFunc(f.handle)) }()
	t.Cleanup(func() {
		session.Close()
		select {
		case err := <-f.done:
			if err != nil {
				t.Logf("fake component: serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("fake component: still serving 5s after close")
		}
	})
	return f
}

// handle replies to a get or set IQ and ignores every other element.
func (f *fakeComponent) handle(tokens xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	var iq xmlNode
	// The handler's token reader starts after start, so the decoder gets
	// start first to see a balanced element.
	whole := xmlstream.MultiReader(xmlstream.Token(*start), tokens)
	if err := xml.NewTokenDecoder(whole).Decode(&iq); err != nil {
		return err
	}
	if iq.XMLName.Local != "iq" || (iq.attr("type") != "get" && iq.attr("type") != "set") {
		return nil
	}
	if _, ok := iq.child("urn:example:hang", "hang"); ok {
		return nil
	}

	reply := f.reply(iq)
	_, err := xmlstream.Copy(tokens, rawTokenReader{xml.NewDecoder(strings.NewReader(reply))})
	return err
}

// reply returns the XML of the reply to a get or set IQ.
func (f *fakeComponent) reply(iq xmlNode) string {
	outer := fmt.Sprintf(`<iq type='result' id='%s' to='%s' from='%s'>`,
		escape(iq.attr("id")), escape(iq.attr("from")), escape(iq.attr("to")))

	if query, ok := iq.child(nsDiscoInfo, "query"); ok {
		// mod_delegation queries these nodes right after the handshake. It
		// adds the namespace to the account's features when the reply lists it.
		node := query.attr("node")
		ns, found := strings.CutPrefix(node, nsDelegation+"::")
		if !found {
			ns, _ = strings.CutPrefix(node, nsDelegation+":bare:")
		}
		return outer + fmt.Sprintf(`<query xmlns='%s' node='%s'><feature var='%s'/></query></iq>`,
			nsDiscoInfo, escape(node), escape(ns))
	}

	inner, ok := unwrapDelegation(iq)
	if !ok || len(inner.Children) == 0 {
		return fmt.Sprintf(`<iq type='error' id='%s' to='%s' from='%s'><error type='cancel'>`+
			`<service-unavailable xmlns='%s'/></error></iq>`,
			escape(iq.attr("id")), escape(iq.attr("from")), escape(iq.attr("to")), NSStanzas)
	}
	f.mu.Lock()
	f.requests = append(f.requests, inner)
	f.mu.Unlock()

	payload := inner.Children[0]
	ns := payload.XMLName.Space
	innerReply := fmt.Sprintf(`<iq xmlns='jabber:client' type='result' id='%s' to='%s'>%s</iq>`,
		escape(inner.attr("id")), escape(inner.attr("from")), fmt.Sprintf(fakeClientList, escape(ns)))
	if payload.XMLName.Local == "revoke" {
		innerReply = fmt.Sprintf(`<iq xmlns='jabber:client' type='error' id='%s' to='%s'>`+
			`<error type='cancel'><service-unavailable xmlns='%s'/><password-reset-required xmlns='%s'/></error></iq>`,
			escape(inner.attr("id")), escape(inner.attr("from")), NSStanzas, escape(ns))
	}
	// Each wrapper contains exactly one child and no whitespace, or Prosody
	// drops the reply.
	return outer + fmt.Sprintf(`<delegation xmlns='%s'><forwarded xmlns='%s'>%s</forwarded></delegation></iq>`,
		nsDelegation, nsForward, innerReply)
}

// unwrapDelegation returns the user's IQ inside a delegated IQ.
func unwrapDelegation(iq xmlNode) (xmlNode, bool) {
	delegation, ok := iq.child(nsDelegation, "delegation")
	if !ok {
		return xmlNode{}, false
	}
	forwarded, ok := delegation.child(nsForward, "forwarded")
	if !ok {
		return xmlNode{}, false
	}
	return forwarded.child("jabber:client", "iq")
}

// Requests returns the inner IQs of the delegated requests received so far.
func (f *fakeComponent) Requests() []xmlNode {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]xmlNode(nil), f.requests...)
}

// rawTokenReader returns tokens without namespace resolution, so that the
// xmlns attributes of the reply text are written back exactly once.
type rawTokenReader struct{ d *xml.Decoder }

func (r rawTokenReader) Token() (xml.Token, error) {
	return r.d.RawToken()
}

func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

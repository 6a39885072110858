package xmpp

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func TestDirectAuthorization(t *testing.T) {
	tests := []struct {
		name     string
		from, to string
	}{
		{"no from", "", componentJID},
		{"malformed from", "@@", componentJID},
		{"server as sender", serverDomain, componentJID},
		{"server with resource as sender", serverDomain + "/bob", componentJID},
		{"user of an unserved domain", "bob@evil.test/x", componentJID},
		{"user on the component domain", "bob@" + componentJID + "/x", componentJID},
		{"to names bob on the component", aliceFull, "bob@" + componentJID},
		{"to names bob with escaping", aliceFull, `bob\40example.test@` + componentJID},
		{"to is bob", aliceFull, bob},
		{"malformed to", aliceFull, "@" + componentJID},
	}
	for _, ns := range namespaces {
		for _, tc := range tests {
			t.Run(ns+"/"+tc.name, func(t *testing.T) {
				b := newFakeBackend()
				h := newTestHandler(t, b, time.Second)

				list := exchangeNode(t, h, directIQTo("get", "l1", tc.from, tc.to, listPayload(ns)))
				revoke := exchangeNode(t, h, directIQTo("set", "r1", tc.from, tc.to, revokePayload(ns, bobDino)))

				wantError(t, list, "auth", "forbidden", "")
				wantError(t, revoke, "auth", "forbidden", "")
				if n := len(b.listRequests()) + len(b.revokeRequests()); n != 0 {
					t.Errorf("backend got %d calls, want 0", n)
				}
			})
		}
	}
}

func TestDirectRequestIsAboutSender(t *testing.T) {
	b := newFakeBackend()
	h := newTestHandler(t, b, time.Second)

	iq := exchangeNode(t, h, directIQ("get", "l1", bobFull, listPayload(NSCAM)))

	wantResult(t, iq)
	clients := iq.Nodes[0].Nodes
	if len(clients) != 1 || clients[0].attr("id") != bobDino {
		t.Errorf("bob's list = %+v, want only %s", clients, bobDino)
	}
	if reqs := b.listRequests(); len(reqs) != 1 || reqs[0].User != bob {
		t.Errorf("list requests = %+v, want one for %s", reqs, bob)
	}
}

// TestForbiddenDoesNotRevealAccounts checks that a rejection about an
// existing account and one about a missing account are the same apart from the
// addresses.
func TestForbiddenDoesNotRevealAccounts(t *testing.T) {
	h := newTestHandler(t, newFakeBackend(), time.Second)

	direct := func(to string) string {
		raw := exchange(t, h, directIQTo("set", "r1", aliceFull, to, revokePayload(NSCAM, bobDino)))
		return strings.ReplaceAll(raw, to, "TARGET")
	}
	if a, b := direct("bob@"+componentJID), direct("nobody@"+componentJID); a != b {
		t.Errorf("direct rejections differ:\n%s\n%s", a, b)
	}

	delegated := func(to string) string {
		raw := exchange(t, h, delegatedIQ(serverDomain, "set", "r1", aliceFull, to, revokePayload(NSCAM, bobDino)))
		return strings.ReplaceAll(raw, to, "TARGET")
	}
	if a, b := delegated(bob), delegated("nobody@example.test"); a != b {
		t.Errorf("delegated rejections differ:\n%s\n%s", a, b)
	}
}

func TestDelegatedAuthorization(t *testing.T) {
	tests := []struct {
		name                   string
		outerFrom, from, to    string
		domains                []string
		wantInner, wantAllowed bool
	}{
		{name: "no inner to", outerFrom: serverDomain, from: aliceFull, wantInner: true, wantAllowed: true},
		{name: "inner to own bare JID", outerFrom: serverDomain, from: aliceFull, to: alice, wantInner: true, wantAllowed: true},
		{name: "inner from bare JID", outerFrom: serverDomain, from: alice, wantInner: true, wantAllowed: true},
		{name: "inner to bob", outerFrom: serverDomain, from: aliceFull, to: bob, wantInner: true},
		{name: "inner to missing account", outerFrom: serverDomain, from: aliceFull, to: "nobody@example.test", wantInner: true},
		{name: "inner to host", outerFrom: serverDomain, from: aliceFull, to: serverDomain, wantInner: true},
		{name: "inner to own full JID", outerFrom: serverDomain, from: aliceFull, to: aliceFull, wantInner: true},
		{name: "inner to malformed", outerFrom: serverDomain, from: aliceFull, to: "@x", wantInner: true},
		{name: "inner from unserved domain", outerFrom: serverDomain, from: "mallory@evil.test/x", to: "mallory@evil.test", wantInner: true},
		{name: "inner from without localpart", outerFrom: serverDomain, from: serverDomain, wantInner: true},
		{name: "inner from missing", outerFrom: serverDomain, wantInner: true},
		{
			name: "inner from other served domain", outerFrom: serverDomain, from: "alice@other.test/x",
			domains: []string{serverDomain, "other.test"}, wantInner: true,
		},
		{name: "outer from a user", outerFrom: aliceFull, from: aliceFull},
		{name: "outer from bare user", outerFrom: alice, from: aliceFull},
		{name: "outer from unserved server", outerFrom: "evil.test", from: "alice@evil.test/x"},
		{name: "outer from server resource", outerFrom: serverDomain + "/x", from: aliceFull},
		{name: "outer from component", outerFrom: componentJID, from: aliceFull},
		{name: "outer from missing", from: aliceFull},
	}
	for _, ns := range namespaces {
		for _, tc := range tests {
			t.Run(ns+"/"+tc.name, func(t *testing.T) {
				b := newFakeBackend()
				h := newTestHandler(t, b, time.Second, tc.domains...)

				outer := exchangeNode(t, h, delegatedIQ(tc.outerFrom, "get", "l1", tc.from, tc.to, listPayload(ns)))

				if !tc.wantInner {
					wantError(t, outer, "auth", "forbidden", "")
					if n := len(b.listRequests()); n != 0 {
						t.Errorf("backend got %d lists, want 0", n)
					}
					return
				}
				wantResult(t, outer)
				inner := innerReply(t, outer)
				if !tc.wantAllowed {
					wantError(t, inner, "auth", "forbidden", "")
					if n := len(b.listRequests()); n != 0 {
						t.Errorf("backend got %d lists, want 0", n)
					}
					return
				}
				wantResult(t, inner)
				if reqs := b.listRequests(); len(reqs) != 1 || reqs[0].User != alice {
					t.Errorf("list requests = %+v, want one for %s", reqs, alice)
				}
			})
		}
	}
}

func TestDelegatedWrapperErrors(t *testing.T) {
	forwarded := func(content string) string {
		return `<iq xmlns="jabber:component:accept" type="set" id="o1" from="example.test" to="clients.example.test">` +
			`<delegation xmlns="urn:xmpp:delegation:2">` + content + `</delegation></iq>`
	}
	innerIQ := func(typ string) string {
		return `<iq xmlns="jabber:client" type="` + typ + `" id="i1" from="alice@example.test/a">` + listPayload(NSCAM) + `</iq>`
	}
	tests := []struct {
		name, stanza string
	}{
		{"outer get", strings.Replace(delegatedIQ(serverDomain, "get", "i1", aliceFull, "", listPayload(NSCAM)), `type="set"`, `type="get"`, 1)},
		{"no forwarded", forwarded("")},
		{"empty forwarded", forwarded(`<forwarded xmlns="urn:xmpp:forward:0"/>`)},
		{"two forwarded", forwarded(`<forwarded xmlns="urn:xmpp:forward:0">` + innerIQ("get") + `</forwarded><forwarded xmlns="urn:xmpp:forward:0"/>`)},
		{"two inner iqs", forwarded(`<forwarded xmlns="urn:xmpp:forward:0">` + innerIQ("get") + innerIQ("get") + `</forwarded>`)},
		{"inner message", forwarded(`<forwarded xmlns="urn:xmpp:forward:0"><message xmlns="jabber:client"/></forwarded>`)},
		{"inner iq in another namespace", forwarded(`<forwarded xmlns="urn:xmpp:forward:0"><iq xmlns="urn:example:x" type="get" id="i1"/></forwarded>`)},
		{"inner result", forwarded(`<forwarded xmlns="urn:xmpp:forward:0">` + innerIQ("result") + `</forwarded>`)},
		{"forwarded in wrong namespace", forwarded(`<forwarded xmlns="urn:example:x">` + innerIQ("get") + `</forwarded>`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newFakeBackend()
			h := newTestHandler(t, b, time.Second)

			outer := exchangeNode(t, h, tc.stanza)

			wantError(t, outer, "modify", "bad-request", "")
			if n := len(b.listRequests()); n != 0 {
				t.Errorf("backend got %d lists, want 0", n)
			}
		})
	}
}

func TestDelegatedWithDelay(t *testing.T) {
	h := newTestHandler(t, newFakeBackend(), time.Second)
	stanza := strings.Replace(delegatedIQ(serverDomain, "get", "i1", aliceFull, "", listPayload(NSCAM)),
		`<forwarded xmlns="urn:xmpp:forward:0">`,
		`<forwarded xmlns="urn:xmpp:forward:0"><delay xmlns="urn:xmpp:delay" stamp="2026-01-01T00:00:00Z"/>`, 1)

	outer := exchangeNode(t, h, stanza)

	wantResult(t, outer)
	wantResult(t, innerReply(t, outer))
}

func TestDelegatedErrorsInInnerReply(t *testing.T) {
	tests := []struct {
		name, typ, payload string
		wantType, wantCond string
		wantApp            bool
	}{
		{"password client", "set", revokePayload(NSManageClients, aliceGajim), "cancel", "service-unavailable", true},
		{"unknown id", "set", revokePayload(NSManageClients, "client/nope"), "cancel", "item-not-found", false},
		{"list in set", "set", listPayload(NSManageClients), "modify", "bad-request", false},
		{"unknown child", "get", `<frob xmlns="` + NSManageClients + `"/>`, "cancel", "feature-not-implemented", false},
		{"other namespace", "get", `<query xmlns="http://jabber.org/protocol/disco#info"/>`, "cancel", "service-unavailable", false},
		{"no payload", "get", "", "modify", "bad-request", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHandler(t, newFakeBackend(), time.Second)

			outer := exchangeNode(t, h, delegatedIQ(serverDomain, tc.typ, "i1", aliceFull, "", tc.payload))

			wantResult(t, outer)
			appNS := ""
			if tc.wantApp {
				appNS = NSManageClients
			}
			wantError(t, innerReply(t, outer), tc.wantType, tc.wantCond, appNS)
		})
	}
}

func TestDelegatedReplyShape(t *testing.T) {
	tests := []struct {
		name     string
		typ, to  string
		payload  string
		wantType string
	}{
		{"list without to", "get", "", listPayload(NSCAM), "result"},
		{"list to own JID", "get", alice, listPayload(NSManageClients), "result"},
		{"revoke", "set", "", revokePayload(NSCAM, aliceREST), "result"},
		{"password revoke", "set", alice, revokePayload(NSCAM, aliceGajim), "error"},
		{"forbidden", "get", bob, listPayload(NSCAM), "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHandler(t, newFakeBackend(), time.Second)

			raw := exchange(t, h, delegatedIQ(serverDomain, tc.typ, "inner-7", aliceFull, tc.to, tc.payload))

			checkWrapperTokens(t, raw)
			if strings.Contains(raw, "urn:xmpp:delay") || strings.Contains(raw, "<delay") {
				t.Errorf("reply contains a delay: %s", raw)
			}
			if !strings.Contains(raw, `<iq xmlns="jabber:client"`) {
				t.Errorf("inner iq does not declare xmlns=\"jabber:client\": %s", raw)
			}

			outer := parseNode(t, raw)
			wantOuter := map[string]string{"type": "result", "id": "deleg-1", "to": serverDomain, "from": componentJID}
			for name, value := range wantOuter {
				if got := outer.attr(name); got != value {
					t.Errorf("outer %s = %q, want %q", name, got, value)
				}
			}

			inner := innerReply(t, outer)
			wantFrom := tc.to
			if wantFrom == "" {
				wantFrom = alice
			}
			wantInner := map[string]string{"type": tc.wantType, "id": "inner-7", "to": aliceFull, "from": wantFrom}
			for name, value := range wantInner {
				if got := inner.attr(name); got != value {
					t.Errorf("inner %s = %q, want %q", name, got, value)
				}
			}
			if inner.XMLName.Space != "jabber:client" {
				t.Errorf("inner namespace = %q, want jabber:client", inner.XMLName.Space)
			}
		})
	}
}

// innerReply returns the IQ inside the <delegation/><forwarded/> wrapper of
// the outer reply, checking that each wrapper has exactly one child.
func innerReply(t *testing.T, outer node) node {
	t.Helper()
	if len(outer.Nodes) != 1 || outer.Nodes[0].XMLName != (xml.Name{Space: NSDelegation, Local: "delegation"}) {
		t.Fatalf("outer children = %+v, want one <delegation/>", outer.Nodes)
	}
	deleg := outer.Nodes[0]
	if len(deleg.Nodes) != 1 || deleg.Nodes[0].XMLName != (xml.Name{Space: "urn:xmpp:forward:0", Local: "forwarded"}) {
		t.Fatalf("delegation children = %+v, want one <forwarded/>", deleg.Nodes)
	}
	fwd := deleg.Nodes[0]
	if len(fwd.Nodes) != 1 || fwd.Nodes[0].XMLName != (xml.Name{Space: "jabber:client", Local: "iq"}) {
		t.Fatalf("forwarded children = %+v, want one jabber:client <iq/>", fwd.Nodes)
	}
	return fwd.Nodes[0]
}

// checkWrapperTokens checks that the <delegation/> and <forwarded/> elements
// of raw contain exactly one child element each and no text, not even
// whitespace.
func checkWrapperTokens(t *testing.T, raw string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(raw))
	var stack []string
	children := map[string]int{}
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		parent := ""
		if len(stack) > 0 {
			parent = stack[len(stack)-1]
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			children[parent]++
			stack = append(stack, tok.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if parent == "delegation" || parent == "forwarded" {
				t.Errorf("text %q inside <%s/>", tok, parent)
			}
		}
	}
	for _, wrapper := range []string{"delegation", "forwarded"} {
		if children[wrapper] != 1 {
			t.Errorf("<%s/> has %d child elements, want 1", wrapper, children[wrapper])
		}
	}
}

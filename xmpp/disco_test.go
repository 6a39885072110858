package xmpp

import (
	"slices"
	"testing"
	"time"
)

const discoInfoNS = "http://jabber.org/protocol/disco#info"

func discoQuery(node string) string {
	return `<query xmlns="` + discoInfoNS + `"` + attrs("node", node) + `/>`
}

func TestDiscoInfo(t *testing.T) {
	h := newTestHandler(t, newFakeBackend(), time.Second)

	iq := exchangeNode(t, h, directIQ("get", "d1", aliceFull, discoQuery("")))

	wantResult(t, iq)
	query, ok := iq.child(discoInfoNS, "query")
	if !ok {
		t.Fatalf("no disco#info query in %+v", iq)
	}
	identity, ok := query.child(discoInfoNS, "identity")
	if !ok || identity.attr("category") != "component" || identity.attr("type") != "generic" {
		t.Errorf("identity = %+v, want component/generic", identity)
	}
	var got []string
	for _, n := range query.Nodes {
		if n.XMLName.Local == "feature" {
			got = append(got, n.attr("var"))
		}
	}
	for _, want := range []string{NSManageClients, NSCAM, discoInfoNS, "urn:xmpp:delegation:2"} {
		if !slices.Contains(got, want) {
			t.Errorf("features = %v, missing %s", got, want)
		}
	}
}

func TestDiscoInfoOpenToAnyone(t *testing.T) {
	h := newTestHandler(t, newFakeBackend(), time.Second)

	for _, from := range []string{serverDomain, "mallory@evil.test/x"} {
		wantResult(t, exchangeNode(t, h, directIQ("get", "d1", from, discoQuery(""))))
	}
}

func TestDiscoDelegationNodes(t *testing.T) {
	h := newTestHandler(t, newFakeBackend(), time.Second)

	for _, ns := range namespaces {
		for _, prefix := range []string{"urn:xmpp:delegation:2::", "urn:xmpp:delegation:2:bare:"} {
			node := prefix + ns
			t.Run(node, func(t *testing.T) {
				iq := exchangeNode(t, h, directIQ("get", "d1", serverDomain, discoQuery(node)))

				wantResult(t, iq)
				query, ok := iq.child(discoInfoNS, "query")
				if !ok {
					t.Fatalf("no query in %+v", iq)
				}
				if got := query.attr("node"); got != node {
					t.Errorf("node = %q, want %q", got, node)
				}
				if len(query.Nodes) != 1 || query.Nodes[0].XMLName.Local != "feature" || query.Nodes[0].attr("var") != ns {
					t.Errorf("query children = %+v, want only feature %s", query.Nodes, ns)
				}
			})
		}
	}
}

func TestDiscoUnknownNode(t *testing.T) {
	h := newTestHandler(t, newFakeBackend(), time.Second)

	for _, node := range []string{"other", "urn:xmpp:delegation:2::urn:example:other", "urn:xmpp:delegation:2:bare:"} {
		t.Run(node, func(t *testing.T) {
			iq := exchangeNode(t, h, directIQ("get", "d1", serverDomain, discoQuery(node)))
			wantError(t, iq, "cancel", "item-not-found", "")
		})
	}
}

func TestOtherServices(t *testing.T) {
	tests := []struct {
		name, typ, payload string
		wantResult         bool
	}{
		{"ping", "get", `<ping xmlns="urn:xmpp:ping"/>`, true},
		{"disco#items", "get", `<query xmlns="http://jabber.org/protocol/disco#items"/>`, false},
		{"disco#info set", "set", discoQuery(""), false},
		{"version", "get", `<query xmlns="jabber:iq:version"/>`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHandler(t, newFakeBackend(), time.Second)

			iq := exchangeNode(t, h, directIQ(tc.typ, "s1", aliceFull, tc.payload))

			if tc.wantResult {
				wantResult(t, iq)
				return
			}
			wantError(t, iq, "cancel", "service-unavailable", "")
		})
	}
}

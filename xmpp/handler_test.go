package xmpp

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

var namespaces = []string{NSManageClients, NSCAM}

func TestListOutput(t *testing.T) {
	for _, ns := range namespaces {
		t.Run(ns, func(t *testing.T) {
			h := newTestHandler(t, newFakeBackend(), time.Second)
			iq := exchangeNode(t, h, directIQ("get", "l1", aliceFull, listPayload(ns)))

			wantResult(t, iq)
			if len(iq.Nodes) != 1 {
				t.Fatalf("result has %d children, want 1", len(iq.Nodes))
			}
			clients := iq.Nodes[0]
			if clients.XMLName != (xml.Name{Space: ns, Local: "clients"}) {
				t.Fatalf("payload = %v, want {%s}clients", clients.XMLName, ns)
			}
			want := fakeClients()[alice]
			if len(clients.Nodes) != len(want) {
				t.Fatalf("got %d clients, want %d", len(clients.Nodes), len(want))
			}
			for i := range want {
				checkClient(t, ns, clients.Nodes[i], &want[i])
			}
		})
	}
}

// checkClient compares the <client/> element got with the view want.
func checkClient(t *testing.T, ns string, got node, want *projector.ClientView) {
	t.Helper()
	if got.XMLName != (xml.Name{Space: ns, Local: "client"}) {
		t.Errorf("element = %v, want {%s}client", got.XMLName, ns)
	}
	if id := got.attr("id"); id != want.ID {
		t.Errorf("id = %q, want %q", id, want.ID)
	}
	if c := got.attr("connected"); c != fmt.Sprint(want.Connected) {
		t.Errorf("%s: connected = %q, want %v", want.ID, c, want.Connected)
	}
	if typ := got.attr("type"); typ != want.Type {
		t.Errorf("%s: type = %q, want %q", want.ID, typ, want.Type)
	}

	checkTime(t, ns, got, "first-seen", want.FirstSeen)
	checkTime(t, ns, got, "last-seen", want.LastSeen)
	checkAuth(t, ns, got, want)
	checkUserAgent(t, ns, got, want)

	permission, ok := got.child(ns, "permission")
	switch {
	case ns == NSManageClients && ok:
		t.Errorf("%s: <permission/> in %s", want.ID, ns)
	case ns == NSCAM && !ok:
		t.Errorf("%s: no <permission/> in %s", want.ID, ns)
	case ns == NSCAM:
		wantStatus := want.Permission
		if wantStatus == "" {
			wantStatus = "unrestricted"
		}
		if s := permission.attr("status"); s != wantStatus {
			t.Errorf("%s: permission status = %q, want %q", want.ID, s, wantStatus)
		}
	}
}

func checkTime(t *testing.T, ns string, client node, name string, want time.Time) {
	t.Helper()
	el, ok := client.child(ns, name)
	if want.IsZero() {
		if ok {
			t.Errorf("<%s/> = %q for a zero time, want none", name, el.Text)
		}
		return
	}
	if !ok {
		t.Errorf("no <%s/>", name)
		return
	}
	wantText := want.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z")
	if el.Text != wantText {
		t.Errorf("<%s/> = %q, want %q", name, el.Text, wantText)
	}
	parsed, err := time.Parse(time.RFC3339, el.Text)
	if err != nil || !parsed.Equal(want.Truncate(time.Second)) {
		t.Errorf("<%s/> %q parses to %v (%v), want %v", name, el.Text, parsed, err, want)
	}
}

func checkAuth(t *testing.T, ns string, client node, want *projector.ClientView) {
	t.Helper()
	auth, ok := client.child(ns, "auth")
	if !ok {
		t.Errorf("%s: no <auth/>", want.ID)
		return
	}
	var got []string
	for _, m := range auth.Nodes {
		if m.XMLName.Space != ns {
			t.Errorf("%s: auth method %v not in %s", want.ID, m.XMLName, ns)
		}
		got = append(got, m.XMLName.Local)
	}
	var wantMethods []string
	for _, m := range want.Auth {
		if m == projector.AuthPassword || m == projector.AuthGrant || m == projector.AuthFast {
			wantMethods = append(wantMethods, m)
		}
	}
	if !slices.Equal(got, wantMethods) {
		t.Errorf("%s: auth = %v, want %v", want.ID, got, wantMethods)
	}
}

func checkUserAgent(t *testing.T, ns string, client node, want *projector.ClientView) {
	t.Helper()
	ua, ok := client.child(ns, "user-agent")
	fields := map[string]string{
		"software": want.UserAgent.Software,
		"uri":      want.UserAgent.URI,
		"device":   want.UserAgent.Device,
	}
	if !ok {
		t.Errorf("%s: no <user-agent/>", want.ID)
		return
	}
	count := 0
	for name, value := range fields {
		el, found := ua.child(ns, name)
		if value == "" {
			if found {
				t.Errorf("%s: empty <%s/> present", want.ID, name)
			}
			continue
		}
		count++
		if el.Text != value {
			t.Errorf("%s: <%s/> = %q, want %q", want.ID, name, el.Text, value)
		}
	}
	if len(ua.Nodes) != count {
		t.Errorf("%s: <user-agent/> has %d children, want %d", want.ID, len(ua.Nodes), count)
	}
}

func TestListOmitsEmptyUserAgent(t *testing.T) {
	b := newFakeBackend()
	b.clients[alice] = []projector.ClientView{{ID: "client/bare", Type: projector.TypeSession}}
	h := newTestHandler(t, b, time.Second)

	iq := exchangeNode(t, h, directIQ("get", "l1", aliceFull, listPayload(NSCAM)))

	wantResult(t, iq)
	client := iq.Nodes[0].Nodes[0]
	if _, ok := client.child(NSCAM, "user-agent"); ok {
		t.Errorf("<user-agent/> present for a client without user agent: %+v", client)
	}
	for _, name := range []string{"first-seen", "last-seen"} {
		if _, ok := client.child(NSCAM, name); ok {
			t.Errorf("<%s/> present for a zero time", name)
		}
	}
	if _, ok := client.child(NSCAM, "auth"); !ok {
		t.Errorf("no <auth/> for a client without methods")
	}
}

func TestListEmptyAccount(t *testing.T) {
	h := newTestHandler(t, newFakeBackend(), time.Second)

	iq := exchangeNode(t, h, directIQ("get", "l1", "carol@example.test/x", listPayload(NSManageClients)))

	wantResult(t, iq)
	if len(iq.Nodes) != 1 || iq.Nodes[0].XMLName.Local != "clients" || len(iq.Nodes[0].Nodes) != 0 {
		t.Errorf("reply = %+v, want an empty <clients/>", iq.Nodes)
	}
}

func TestRevokeSelectors(t *testing.T) {
	tests := []struct {
		name        string
		selector    string
		wantRevoked []string
	}{
		{"listing id", aliceREST, []string{aliceREST}},
		{"software name", "software/Conversations", []string{aliceConv, aliceConvOld}},
		{"software name and version", "software/Conversations/2.10.0", []string{aliceConvOld}},
	}
	for _, ns := range namespaces {
		for _, tc := range tests {
			t.Run(ns+"/"+tc.name, func(t *testing.T) {
				b := newFakeBackend()
				h := newTestHandler(t, b, time.Second)

				iq := exchangeNode(t, h, directIQ("set", "r1", aliceFull, revokePayload(ns, tc.selector)))

				wantResult(t, iq)
				if len(iq.Nodes) != 0 {
					t.Errorf("result has children %+v, want none", iq.Nodes)
				}
				reqs := b.revokeRequests()
				if len(reqs) != 1 {
					t.Fatalf("backend got %d revokes, want 1", len(reqs))
				}
				want := query.RevokeRequest{User: alice, Selector: tc.selector, Actor: alice}
				if reqs[0] != want {
					t.Errorf("revoke request = %+v, want %+v", reqs[0], want)
				}
				for _, id := range b.clientIDs(alice) {
					if slices.Contains(tc.wantRevoked, id) {
						t.Errorf("client %s still listed after revoke", id)
					}
				}
				if left := len(b.clientIDs(alice)); left != 4-len(tc.wantRevoked) {
					t.Errorf("%d clients left, want %d", left, 4-len(tc.wantRevoked))
				}
			})
		}
	}
}

func TestErrorTable(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		payload func(ns string) string
		setup   func(b *fakeBackend)
		timeout time.Duration
		// want is the error type and condition; wantApp is true for
		// password-reset-required in the request namespace.
		wantType, wantCondition string
		wantApp                 bool
		// wantBackend is false when the request must not reach the backend.
		wantBackend bool
	}{
		{
			name: "password client", typ: "set",
			payload:  func(ns string) string { return revokePayload(ns, aliceGajim) },
			wantType: "cancel", wantCondition: "service-unavailable", wantApp: true, wantBackend: true,
		},
		{
			name: "unknown id", typ: "set",
			payload:  func(ns string) string { return revokePayload(ns, "client/nope") },
			wantType: "cancel", wantCondition: "item-not-found", wantBackend: true,
		},
		{
			name: "other account's id", typ: "set",
			payload:  func(ns string) string { return revokePayload(ns, bobDino) },
			wantType: "cancel", wantCondition: "item-not-found", wantBackend: true,
		},
		{
			name: "malformed id", typ: "set",
			payload:  func(ns string) string { return revokePayload(ns, "software/") },
			wantType: "cancel", wantCondition: "item-not-found", wantBackend: true,
		},
		{
			name: "empty id", typ: "set",
			payload:  func(ns string) string { return `<revoke xmlns="` + ns + `" id=""/>` },
			wantType: "cancel", wantCondition: "item-not-found",
		},
		{
			name: "missing id", typ: "set",
			payload:  func(ns string) string { return `<revoke xmlns="` + ns + `"/>` },
			wantType: "cancel", wantCondition: "item-not-found",
		},
		{
			name: "oversized id", typ: "set",
			payload:  func(ns string) string { return revokePayload(ns, "client/"+strings.Repeat("a", 2000)) },
			wantType: "cancel", wantCondition: "item-not-found",
		},
		{
			name: "list in set", typ: "set",
			payload:  listPayload,
			wantType: "modify", wantCondition: "bad-request",
		},
		{
			name: "revoke in get", typ: "get",
			payload:  func(ns string) string { return revokePayload(ns, aliceREST) },
			wantType: "modify", wantCondition: "bad-request",
		},
		{
			name: "unknown child", typ: "get",
			payload:  func(ns string) string { return `<history xmlns="` + ns + `"/>` },
			wantType: "cancel", wantCondition: "feature-not-implemented",
		},
		{
			name: "no payload", typ: "get",
			payload:  func(string) string { return "" },
			wantType: "modify", wantCondition: "bad-request",
		},
		{
			name: "two payloads", typ: "get",
			payload:  func(ns string) string { return listPayload(ns) + listPayload(ns) },
			wantType: "modify", wantCondition: "bad-request",
		},
		{
			name: "unknown namespace", typ: "get",
			payload:  func(string) string { return `<list xmlns="urn:example:other"/>` },
			wantType: "cancel", wantCondition: "service-unavailable",
		},
		{
			name: "store unavailable on revoke", typ: "set",
			payload:  func(ns string) string { return revokePayload(ns, aliceREST) },
			setup:    func(b *fakeBackend) { b.revErr = fmt.Errorf("publish: %w", query.ErrUnavailable) },
			wantType: "wait", wantCondition: "internal-server-error", wantBackend: true,
		},
		{
			name: "store unavailable on list", typ: "get",
			payload:  listPayload,
			setup:    func(b *fakeBackend) { b.listErr = query.ErrUnavailable },
			wantType: "wait", wantCondition: "internal-server-error", wantBackend: true,
		},
		{
			name: "query timeout", typ: "set",
			payload:  func(ns string) string { return revokePayload(ns, aliceREST) },
			setup:    func(b *fakeBackend) { b.revErr = query.ErrTimeout },
			wantType: "wait", wantCondition: "remote-server-timeout", wantBackend: true,
		},
		{
			name: "backend deadline", typ: "set",
			payload:  func(ns string) string { return revokePayload(ns, aliceREST) },
			setup:    func(b *fakeBackend) { b.release = make(chan struct{}) },
			timeout:  50 * time.Millisecond,
			wantType: "wait", wantCondition: "remote-server-timeout", wantBackend: true,
		},
		{
			name: "backend ignores deadline", typ: "set",
			payload:  func(ns string) string { return revokePayload(ns, aliceREST) },
			setup:    func(b *fakeBackend) { b.release, b.ignoreCtx = make(chan struct{}), true },
			timeout:  50 * time.Millisecond,
			wantType: "wait", wantCondition: "remote-server-timeout", wantBackend: true,
		},
		{
			name: "backend bad request", typ: "set",
			payload:  func(ns string) string { return revokePayload(ns, aliceREST) },
			setup:    func(b *fakeBackend) { b.revErr = query.ErrBadRequest },
			wantType: "modify", wantCondition: "bad-request", wantBackend: true,
		},
		{
			name: "backend other error", typ: "get",
			payload:  listPayload,
			setup:    func(b *fakeBackend) { b.listErr = errors.New("nats: connection closed") },
			wantType: "wait", wantCondition: "internal-server-error", wantBackend: true,
		},
		{
			name: "backend panic", typ: "set",
			payload:  func(ns string) string { return revokePayload(ns, aliceREST) },
			setup:    func(b *fakeBackend) { b.panicMsg = "boom" },
			wantType: "wait", wantCondition: "internal-server-error", wantBackend: true,
		},
		{
			name: "list of another account", typ: "get",
			payload:  listPayload,
			setup:    func(b *fakeBackend) { b.listUser = bob },
			wantType: "wait", wantCondition: "internal-server-error", wantBackend: true,
		},
	}
	for _, ns := range namespaces {
		for _, tc := range tests {
			t.Run(ns+"/"+tc.name, func(t *testing.T) {
				b := newFakeBackend()
				if tc.setup != nil {
					tc.setup(b)
				}
				if b.release != nil {
					defer close(b.release)
				}
				timeout := tc.timeout
				if timeout == 0 {
					timeout = time.Second
				}
				h := newTestHandler(t, b, timeout)

				start := time.Now()
				iq := exchangeNode(t, h, directIQ(tc.typ, "e1", aliceFull, tc.payload(ns)))
				elapsed := time.Since(start)

				appNS := ""
				if tc.wantApp {
					appNS = ns
				}
				wantError(t, iq, tc.wantType, tc.wantCondition, appNS)
				if got := iq.attr("id"); got != "e1" {
					t.Errorf("reply id = %q, want e1", got)
				}
				calls := len(b.revokeRequests()) + len(b.listRequests())
				if tc.wantBackend != (calls > 0) {
					t.Errorf("backend calls = %d, want calls: %v", calls, tc.wantBackend)
				}
				if elapsed > timeout+time.Second {
					t.Errorf("reply took %v with a request timeout of %v", elapsed, timeout)
				}
			})
		}
	}
}

func TestPasswordRevokeStillRevokes(t *testing.T) {
	b := newFakeBackend()
	h := newTestHandler(t, b, time.Second)

	iq := exchangeNode(t, h, directIQ("set", "r1", aliceFull, revokePayload(NSCAM, "software/Gajim")))

	wantError(t, iq, "cancel", "service-unavailable", NSCAM)
	if slices.Contains(b.clientIDs(alice), aliceGajim) {
		t.Errorf("backend still lists %s after the revoke", aliceGajim)
	}
}

func TestReplyAddressing(t *testing.T) {
	h := newTestHandler(t, newFakeBackend(), time.Second)

	iq := exchangeNode(t, h, directIQ("get", "l1", aliceFull, listPayload(NSCAM)))

	want := map[string]string{"id": "l1", "to": aliceFull, "from": componentJID, "type": "result"}
	for name, value := range want {
		if got := iq.attr(name); got != value {
			t.Errorf("reply %s = %q, want %q", name, got, value)
		}
	}
	if iq.XMLName.Space != "jabber:component:accept" {
		t.Errorf("reply namespace = %q, want jabber:component:accept", iq.XMLName.Space)
	}
}

func TestNoReplyDue(t *testing.T) {
	tests := []struct {
		name   string
		stanza string
	}{
		{"result iq", directIQ("result", "x1", aliceFull, "")},
		{"error iq", directIQ("error", "x2", aliceFull, `<error type="cancel"/>`)},
		{"iq without type", directIQ("", "x3", aliceFull, listPayload(NSCAM))},
		{"message", `<message xmlns="jabber:component:accept" from="alice@example.test/a" to="clients.example.test"><body>hi</body></message>`},
		{"presence", `<presence xmlns="jabber:component:accept" from="alice@example.test/a"/>`},
		{"iq in another namespace", `<iq xmlns="urn:example:other" type="get" id="x4"><list xmlns="urn:xmpp:cam:0"/></iq>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newFakeBackend()
			h := newTestHandler(t, b, time.Second)
			if got := exchange(t, h, tc.stanza); got != "" {
				t.Errorf("reply = %s, want none", got)
			}
			if n := len(b.listRequests()); n != 0 {
				t.Errorf("backend got %d lists, want 0", n)
			}
		})
	}
}

func TestListAfterRevokeWaitsForRevoke(t *testing.T) {
	b := newFakeBackend()
	b.seq = 41
	h := newTestHandler(t, b, time.Second)

	wantResult(t, exchangeNode(t, h, directIQ("set", "r1", aliceFull, revokePayload(NSCAM, aliceREST))))
	wantResult(t, exchangeNode(t, h, directIQ("get", "l1", aliceFull, listPayload(NSCAM))))
	wantResult(t, exchangeNode(t, h, directIQ("get", "l2", bobFull, listPayload(NSCAM))))

	lists := b.listRequests()
	if len(lists) != 2 {
		t.Fatalf("backend got %d lists, want 2", len(lists))
	}
	if lists[0].MinSeq != 42 {
		t.Errorf("alice's list MinSeq = %d, want 42, the sequence of her revoke", lists[0].MinSeq)
	}
	if lists[1].MinSeq != 0 {
		t.Errorf("bob's list MinSeq = %d, want 0", lists[1].MinSeq)
	}
}

func TestReplyRejectsBrokenInput(t *testing.T) {
	tests := []struct {
		name  string
		input string
	}{
		{"empty", ""},
		{"text", "hello"},
		{"end element first", "</iq>"},
		{"truncated", `<iq xmlns="jabber:component:accept" type="get" id="1"><list xmlns="urn:xmpp:cam:0"/>`},
		{"mismatched end", `<iq xmlns="jabber:component:accept" type="get" id="1"></query>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHandler(t, newFakeBackend(), time.Second)
			reply, err := h.Reply(context.Background(), xml.NewDecoder(strings.NewReader(tc.input)))
			if err == nil {
				t.Errorf("Reply returned %v and no error", reply)
			}
		})
	}
}

func TestOversizedStanza(t *testing.T) {
	tests := []struct {
		name    string
		payload string
	}{
		{"deep", strings.Repeat(`<a xmlns="urn:xmpp:cam:0">`, 40) + strings.Repeat(`</a>`, 40)},
		{"wide", `<list xmlns="urn:xmpp:cam:0">` + strings.Repeat(`<x/>`, 200) + `</list>`},
		{"long attributes", `<list xmlns="urn:xmpp:cam:0" pad="` + strings.Repeat("p", 70<<10) + `"/>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newFakeBackend()
			h := newTestHandler(t, b, time.Second)

			iq := exchangeNode(t, h, directIQ("get", "big", aliceFull, tc.payload))

			wantError(t, iq, "modify", "policy-violation", "")
			if n := len(b.listRequests()); n != 0 {
				t.Errorf("backend got %d lists, want 0", n)
			}
		})
	}
}

func TestNewHandlerRejectsInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  HandlerConfig
	}{
		{"no backend", HandlerConfig{Domains: []string{serverDomain}}},
		{"no domains", HandlerConfig{Backend: newFakeBackend()}},
		{"user as domain", HandlerConfig{Backend: newFakeBackend(), Domains: []string{alice}}},
		{"invalid domain", HandlerConfig{Backend: newFakeBackend(), Domains: []string{"exa mple.test"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewHandler(tc.cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("NewHandler error = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

// FuzzReply checks that Reply never panics and gives every get or set IQ
// exactly one reply with its id.
func FuzzReply(f *testing.F) {
	seeds := []string{
		directIQ("get", "1", aliceFull, listPayload(NSCAM)),
		directIQ("set", "2", aliceFull, revokePayload(NSManageClients, aliceREST)),
		delegatedIQ(serverDomain, "get", "3", aliceFull, "", listPayload(NSCAM)),
		delegatedIQ(serverDomain, "set", "4", aliceFull, bob, revokePayload(NSCAM, bobDino)),
		directIQ("get", "5", aliceFull, `<query xmlns="http://jabber.org/protocol/disco#info"/>`),
		directIQ("get", "6", "", ""),
		`<iq type="set" id="7"><delegation xmlns="urn:xmpp:delegation:2"/></iq>`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	h, err := NewHandler(HandlerConfig{Backend: newFakeBackend(), Domains: []string{serverDomain}, RequestTimeout: time.Second})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, input string) {
		d := xml.NewDecoder(strings.NewReader(input))
		reply, err := h.Reply(context.Background(), d)
		if err != nil {
			return
		}

		// Decode the request's start element again to know whether a reply
		// was due. Of duplicate attributes, the first one counts.
		head, err := firstStart(xml.NewDecoder(strings.NewReader(input)))
		if err != nil {
			t.Fatalf("Reply accepted %q, whose start cannot be read: %v", input, err)
		}
		typ, id := firstAttr(head, "type"), firstAttr(head, "id")
		due := isIQName(head.Name) && (typ == "get" || typ == "set")
		if due != (reply != nil) {
			t.Fatalf("reply present = %v for %q, want %v", reply != nil, input, due)
		}
		if reply == nil {
			return
		}
		tok, _ := reply.Token()
		start, ok := tok.(xml.StartElement)
		if !ok {
			t.Fatalf("reply starts with %T", tok)
		}
		if got := firstAttr(start, "id"); got != id {
			t.Fatalf("reply id = %q, want %q", got, id)
		}
		if got := firstAttr(start, "type"); got != "result" && got != "error" {
			t.Fatalf("reply type = %q", got)
		}
	})
}

func firstAttr(start xml.StartElement, local string) string {
	for _, a := range start.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

package xmpp

import (
	"bytes"
	"context"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

// fuzzTimeout is the RequestTimeout of the fuzzed handler. Reply must
// return within it and a second of slack, whatever the input.
const fuzzTimeout = time.Second

// maxFuzzReply bounds the encoded reply: the attributes that a reply
// copies from the request, and room for the fake backend's largest list.
func maxFuzzReply(hdr iqHeader) int {
	return len(hdr.id) + len(hdr.from) + len(hdr.to) + 64<<10
}

// fuzzStanza builds a well-formed IQ from the fuzzer's fields, so that the
// fuzzer explores the handler instead of the XML parser. The payload
// element local in namespace ns carries attr as its id, body inside it,
// depth levels of nesting and repeat copies of an empty child. With
// delegated set, the IQ is forwarded by the server as XEP-0355 does.
func fuzzStanza(typ, id, from, to, ns, local, attr, body string, depth, repeat int, delegated bool) string {
	var payload strings.Builder
	payload.WriteString(`<` + local + ` xmlns="` + escapeAttr(ns) + `"` + attrs("id", attr) + `>`)
	payload.WriteString(body)
	for range repeat {
		payload.WriteString(`<item/>`)
	}
	for range depth {
		payload.WriteString(`<x>`)
	}
	for range depth {
		payload.WriteString(`</x>`)
	}
	payload.WriteString(`</` + local + `>`)

	if delegated {
		return delegatedIQ(serverDomain, typ, id, from, to, payload.String())
	}
	return directIQTo(typ, id, from, to, payload.String())
}

func escapeAttr(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// encodeReply encodes the tokens of reply, and fails t when they do not
// form XML that the encoder accepts.
func encodeReply(t *testing.T, reply xml.TokenReader) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	for {
		tok, err := reply.Token()
		if tok != nil {
			if err := enc.EncodeToken(tok); err != nil {
				t.Fatalf("reply token %#v cannot be encoded: %v", tok, err)
			}
		}
		if err != nil {
			break
		}
	}
	if err := enc.Flush(); err != nil {
		t.Fatalf("reply cannot be encoded: %v", err)
	}
	return buf.Bytes()
}

// FuzzReplyFields checks Reply on IQs built from fuzzed attribute values,
// payload names, text, nesting depth and element counts, direct and
// delegated. Every get or set gets exactly one reply with the request's id,
// of type result or error, that encodes to well-formed XML of bounded size,
// within the request timeout.
func FuzzReplyFields(f *testing.F) {
	type seed struct {
		typ, id, from, to, ns, local, attr, body string
		depth, repeat                            int
		delegated                                bool
	}
	seeds := []seed{
		{"get", "1", aliceFull, componentJID, NSCAM, "list", "", "", 0, 0, false},
		{"set", "2", aliceFull, componentJID, NSManageClients, "revoke", "client/abc", "", 0, 0, false},
		{"get", "3", aliceFull, "", NSCAM, "list", "", "", 0, 0, true},
		{"set", "4", aliceFull, "bob@example.test", NSCAM, "revoke", "software/Dino", "", 0, 0, true},
		{"get", "5", aliceFull, componentJID, "http://jabber.org/protocol/disco#info", "query", "", "", 0, 0, false},
		{"get", "6", "mallory@evil.test/x", componentJID, NSCAM, "list", "", "", 0, 0, false},
		{"set", "7", aliceFull, componentJID, NSCAM, "revoke", strings.Repeat("a", maxSelectorBytes+1), "", 0, 0, false},
		{"set", "8", aliceFull, componentJID, NSCAM, "revoke", "\u00e9\U0001F600<&>\"'", "<![CDATA[x]]>", 0, 0, false},
		{"get", "9", aliceFull, componentJID, NSCAM, "list", "", "<!-- c --><?pi x?>text", 3, 3, true},
		{"get", "10", aliceFull, componentJID, NSCAM, "list", "", "", maxDepth + 1, 0, false},
		{"get", "11", aliceFull, componentJID, NSCAM, "list", "", "", 0, maxElements + 1, true},
		{"get", "12", aliceFull, componentJID, NSCAM, "list", "", "", 10_000, 0, false},
		{"get", "13", aliceFull, componentJID, NSCAM, "list", "", strings.Repeat("x", 1<<20), 0, 0, false},
		{"set", strings.Repeat("i", 100_000), aliceFull, componentJID, NSCAM, "revoke", "client/x", "", 0, 0, false},
		{"set", "15", aliceFull, componentJID, NSCAM, "revoke", strings.Repeat("v", maxAttrBytes+1), "", 0, 0, true},
		{"result", "16", aliceFull, componentJID, NSCAM, "list", "", "", 0, 0, false},
		{"error", "17", aliceFull, componentJID, NSCAM, "list", "", "", 0, 0, true},
		{"get", "", "", "", "", "", "", "", 0, 0, false},
		{"get", "19", "@/", componentJID, NSCAM, "list", "", "", 0, 0, false},
		{"set", "20", aliceFull, componentJID, NSCAM, "list", "", "", 0, 0, false},
		{"get", "21", aliceFull, componentJID, NSCAM, "revoke", "", "", 0, 0, false},
		{"get", "22", aliceFull, componentJID, NSCAM, "unknown", "", "", 0, 0, false},
	}
	for _, s := range seeds {
		f.Add(s.typ, s.id, s.from, s.to, s.ns, s.local, s.attr, s.body, s.depth, s.repeat, s.delegated)
	}
	h, err := NewHandler(HandlerConfig{Backend: newFakeBackend(), Domains: []string{serverDomain}, RequestTimeout: fuzzTimeout})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, typ, id, from, to, ns, local, attr, body string, depth, repeat int, delegated bool) {
		if !isXMLName(local) {
			local = "list"
		}
		depth, repeat = clamp(depth, 0, 20_000), clamp(repeat, 0, 2_000)
		input := fuzzStanza(typ, id, from, to, ns, local, attr, body, depth, repeat, delegated)

		start := time.Now()
		reply, err := h.Reply(context.Background(), xml.NewDecoder(strings.NewReader(input)))
		if took := time.Since(start); took > fuzzTimeout+time.Second {
			t.Fatalf("Reply took %s, want at most %s", took, fuzzTimeout+time.Second)
		}
		if err != nil {
			// The body is raw XML and may break the stanza; Reply then
			// reports the parse error.
			return
		}

		outer := xml.NewDecoder(strings.NewReader(input))
		head, err := firstStart(outer)
		if err != nil {
			t.Fatalf("Reply accepted a stanza whose start cannot be read: %v", err)
		}
		hdr := iqHeader{id: firstAttr(head, "id"), typ: firstAttr(head, "type"), from: firstAttr(head, "from"), to: firstAttr(head, "to")}
		due := hdr.typ == "get" || hdr.typ == "set"
		if due != (reply != nil) {
			t.Fatalf("reply present = %v for an IQ of type %q, want %v", reply != nil, hdr.typ, due)
		}
		if reply == nil {
			return
		}

		data := encodeReply(t, reply)
		if len(data) > maxFuzzReply(hdr) {
			t.Fatalf("reply of %d bytes to a request with %d bytes of addresses", len(data), len(hdr.id)+len(hdr.from)+len(hdr.to))
		}
		var got node
		if err := xml.Unmarshal(data, &got); err != nil {
			t.Fatalf("reply is not well-formed XML: %v\n%s", err, data)
		}
		if got.attr("id") != hdr.id {
			t.Fatalf("reply id = %q, want %q", got.attr("id"), hdr.id)
		}
		if typ := got.attr("type"); typ != "result" && typ != "error" {
			t.Fatalf("reply type = %q, want result or error", typ)
		}
	})
}

func clamp(v, low, high int) int {
	return max(low, min(v, high))
}

// isXMLName reports whether s can be an element name without a prefix.
func isXMLName(s string) bool {
	if s == "" || strings.ContainsAny(s, ":") {
		return false
	}
	d := xml.NewDecoder(strings.NewReader("<" + s + "/>"))
	tok, err := d.Token()
	if err != nil {
		return false
	}
	start, ok := tok.(xml.StartElement)
	return ok && start.Name.Local == s
}

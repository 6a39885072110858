package xmpp

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/clientele-xmpp/clientele/projector"
)

func TestClientElementMarksLegacy(t *testing.T) {
	cases := []struct {
		name   string
		legacy bool
	}{
		{"legacy client", true},
		{"client with a client id", false},
	}
	for _, ns := range namespaces {
		for _, tc := range cases {
			t.Run(ns+" "+tc.name, func(t *testing.T) {
				view := &projector.ClientView{ID: "client/abc", Type: projector.TypeSession, Legacy: tc.legacy, Auth: []string{projector.AuthPassword}}
				var buf bytes.Buffer
				enc := xml.NewEncoder(&buf)
				for _, tok := range clientElement(ns, view).appendTokens(nil) {
					if err := enc.EncodeToken(tok); err != nil {
						t.Fatal(err)
					}
				}
				if err := enc.Flush(); err != nil {
					t.Fatal(err)
				}
				var got node
				if err := xml.Unmarshal(buf.Bytes(), &got); err != nil {
					t.Fatalf("%v in %s", err, buf.String())
				}
				_, found := got.child(NSLegacy, "legacy")
				if found != tc.legacy {
					t.Errorf("<legacy xmlns=%q/> present = %v, want %v: %s", NSLegacy, found, tc.legacy, buf.String())
				}
				if _, ok := got.child(ns, "auth"); !ok {
					t.Errorf("the protocol's own children lost their namespace: %s", buf.String())
				}
				if tc.legacy && strings.Count(buf.String(), NSLegacy) != 1 {
					t.Errorf("namespace declared %d times, want once: %s", strings.Count(buf.String(), NSLegacy), buf.String())
				}
			})
		}
	}
}

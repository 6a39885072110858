package events_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
)

func validEvent() *events.Event {
	return &events.Event{
		ID: "01JEXAMPLE0000000000000000", Type: events.SessionBound, V: 1,
		Time: time.Date(2026, 12, 4, 10, 0, 0, 123e6, time.UTC), Node: "xmpp-1",
		User: "alice@example.test", Session: &events.Session{ID: "s1", Resource: "gajim.ABC"},
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		change func(e *events.Event)
		want   error
		field  string
	}{
		{"valid", func(e *events.Event) {}, nil, ""},
		{"missing id", func(e *events.Event) { e.ID = "" }, events.ErrInvalid, "id"},
		{"id with space", func(e *events.Event) { e.ID = "a b" }, events.ErrInvalid, "id"},
		{"unknown type", func(e *events.Event) { e.Type = "session.teleported" }, events.ErrUnknownType, "type"},
		{"newer version", func(e *events.Event) { e.V = 2 }, events.ErrNewerVersion, "v"},
		{"version zero", func(e *events.Event) { e.V = 0 }, events.ErrInvalid, "v"},
		{"missing time", func(e *events.Event) { e.Time = time.Time{} }, events.ErrInvalid, "time"},
		{"missing node", func(e *events.Event) { e.Node = "" }, events.ErrInvalid, "node"},
		{"node with dot", func(e *events.Event) { e.Node = "xmpp.1" }, events.ErrInvalid, "node"},
		{"missing user", func(e *events.Event) { e.User = "" }, events.ErrInvalid, "user"},
		{"full JID user", func(e *events.Event) { e.User = "alice@example.test/phone" }, events.ErrInvalid, "user"},
		{"domain-only user", func(e *events.Event) { e.User = "example.test" }, events.ErrInvalid, "user"},
		{"invalid JID", func(e *events.Event) { e.User = "@example.test" }, events.ErrInvalid, "user"},
		{"missing session", func(e *events.Event) { e.Session = nil }, events.ErrInvalid, "session.id"},
		{"missing resource", func(e *events.Event) { e.Session.Resource = "" }, events.ErrInvalid, "session.resource"},
		{"bad permission", func(e *events.Event) { e.Grant = &events.Grant{ID: "g", Permission: "root"} }, events.ErrInvalid, "grant.permission"},
		{"long device", func(e *events.Event) { e.Client = &events.Client{Device: strings.Repeat("x", 2000)} }, events.ErrInvalid, "client.device"},
		{"user on node event", func(e *events.Event) { e.Type, e.Session = events.NodeHeartbeat, nil }, events.ErrInvalid, "user"},
		{"node.started without boot", func(e *events.Event) { e.Type, e.User, e.Session = events.NodeStarted, "", nil }, events.ErrInvalid, "boot"},
		{"fast.minted without client", func(e *events.Event) {
			e.Type, e.Session, e.Fast = events.FastMinted, nil, &events.Fast{Fingerprint: "sha256:x"}
		}, events.ErrInvalid, "client.id"},
		{"client.revoked without target", func(e *events.Event) { e.Type, e.Session = events.ClientRevoked, nil }, events.ErrInvalid, "target"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := validEvent()
			tc.change(e)
			err := events.Validate(e)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Validate = %v, want %v", err, tc.want)
			}
			var fe *events.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("error %v names field %q, want %q", err, fe.Field, tc.field)
			}
		})
	}
}

func TestValidateNormalisesUser(t *testing.T) {
	e := validEvent()
	e.User = "Alice@Example.TEST"
	if err := events.Validate(e); err != nil {
		t.Fatal(err)
	}
	if e.User != "alice@example.test" {
		t.Errorf("user = %q, want alice@example.test", e.User)
	}
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name string
		data string
		want error
	}{
		{"valid", `{"id":"e1","type":"auth.password","v":1,"time":"2026-12-04T10:00:00.5Z","node":"n1","user":"a@b.c","session":{"id":"s"}}`, nil},
		{"not json", `not json`, events.ErrMalformed},
		{"array", `[1,2]`, events.ErrMalformed},
		{"bad time", `{"id":"e1","type":"auth.password","v":1,"time":"yesterday","node":"n1","user":"a@b.c","session":{"id":"s"}}`, events.ErrMalformed},
		{"newer version", `{"id":"e1","type":"auth.password","v":7,"time":"2026-12-04T10:00:00Z","node":"n1","user":"a@b.c"}`, events.ErrNewerVersion},
		{"unknown type", `{"id":"e1","type":"auth.telepathy","v":1,"time":"2026-12-04T10:00:00Z","node":"n1","user":"a@b.c"}`, events.ErrUnknownType},
		{"oversized", `{"id":"` + strings.Repeat("x", events.MaxEventSize) + `"}`, events.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := events.Decode([]byte(tc.data))
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	e := validEvent()
	e.Client = &events.Client{ID: "c1", Software: "Gajim", Version: "1.9.5", URI: "https://gajim.org/", Device: "laptop"}
	data, err := events.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := events.Encode(got)
	if string(again) != string(data) {
		t.Errorf("round trip changed the event:\n%s\n%s", data, again)
	}
	if strings.Contains(string(data), `"grant"`) {
		t.Errorf("wire form has an empty grant field: %s", data)
	}
}

func TestSubjects(t *testing.T) {
	e := validEvent()
	s := events.Subject(e)
	if !strings.HasPrefix(s, events.UserSubjectPrefix+".") || !strings.HasSuffix(s, ".session.bound") {
		t.Errorf("Subject = %q", s)
	}
	if strings.Contains(strings.TrimSuffix(strings.TrimPrefix(s, events.UserSubjectPrefix+"."), ".session.bound"), "example") {
		t.Errorf("subject %q contains the JID", s)
	}
	filter := events.UserFilter("alice@example.test")
	if strings.TrimSuffix(filter, ">") != strings.TrimSuffix(s, "session.bound") {
		t.Errorf("UserFilter %q does not match subject %q", filter, s)
	}
	if events.UserFilter("bob@example.test") == filter {
		t.Error("two users share a subject filter")
	}
	n := &events.Event{Type: events.NodeHeartbeat, Node: "xmpp-1"}
	if got := events.Subject(n); got != "clientele.events.node.xmpp-1.node.heartbeat" {
		t.Errorf("node subject = %q", got)
	}
}

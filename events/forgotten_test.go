package events_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
)

func validTombstone() *events.Event {
	return events.NewForgotten("01JEXAMPLE0000000000000001", "clientele", "alice@example.test", "admin",
		time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC))
}

func TestValidateTombstone(t *testing.T) {
	cases := []struct {
		name   string
		change func(e *events.Event)
		want   error
		field  string
	}{
		{"valid", func(e *events.Event) {}, nil, ""},
		{"missing key", func(e *events.Event) { e.UserKey = "" }, events.ErrInvalid, "user_key"},
		{"key too short", func(e *events.Event) { e.UserKey = "abc" }, events.ErrInvalid, "user_key"},
		{"key upper case", func(e *events.Event) { e.UserKey = strings.ToUpper(e.UserKey) }, events.ErrInvalid, "user_key"},
		{"key with digit 1", func(e *events.Event) { e.UserKey = "1" + e.UserKey[1:] }, events.ErrInvalid, "user_key"},
		{"with a JID", func(e *events.Event) { e.User = "alice@example.test" }, events.ErrInvalid, "user"},
		{"key on another type", func(e *events.Event) {
			e.Type, e.User, e.Session = events.AuthPassword, "alice@example.test", &events.Session{ID: "s1"}
		}, events.ErrInvalid, "user_key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := validTombstone()
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
				t.Errorf("error %v names another field than %q", err, tc.field)
			}
		})
	}
}

func TestTombstoneHoldsNoJID(t *testing.T) {
	e := validTombstone()
	if e.UserKey != events.UserKey("alice@example.test") {
		t.Errorf("UserKey = %q, want the user key of alice", e.UserKey)
	}
	data, err := events.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "alice") || strings.Contains(string(data), "example.test") {
		t.Errorf("wire form contains the JID: %s", data)
	}
	if _, err := events.Decode(data); err != nil {
		t.Errorf("Decode(wire form) = %v", err)
	}
}

func TestTombstoneSubject(t *testing.T) {
	e := validTombstone()
	s := events.Subject(e)
	if s != events.ForgottenSubject(e.UserKey) || !strings.HasPrefix(s, events.ForgottenSubjectPrefix+".") {
		t.Errorf("Subject = %q, want %q", s, events.ForgottenSubject(e.UserKey))
	}
	// A purge of the account's subjects must keep the tombstone.
	if strings.HasPrefix(s, strings.TrimSuffix(events.UserFilter("alice@example.test"), ">")) {
		t.Errorf("tombstone subject %q is inside the account's filter", s)
	}
	if !strings.HasPrefix(s, strings.TrimSuffix(events.AllEventsSubject, ">")) {
		t.Errorf("tombstone subject %q is outside the event stream", s)
	}
}

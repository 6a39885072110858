package events_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/clientele-xmpp/clientele/events"
)

// maxErrorLen bounds the message of a rejection, which names the value,
// so that hostile input cannot flood the logs that print it.
const maxErrorLen = 1024

// deadline bounds one call of the code under test. Decoding and validating
// an event of MaxEventSize takes well under a millisecond.
const deadline = 2 * time.Second

// withinDeadline runs f and crashes the test binary when f does not return
// within deadline. A crash, unlike a failure, also ends a call that hangs,
// and the fuzzer records the input that caused it.
func withinDeadline(t *testing.T, f func()) {
	t.Helper()
	timer := time.AfterFunc(deadline, func() {
		panic(fmt.Sprintf("%s: call still running after %s", t.Name(), deadline))
	})
	defer timer.Stop()
	f()
}

// checkRejection fails t unless err wraps a sentinel of the package and
// its message is short.
func checkRejection(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, events.ErrMalformed) && !errors.Is(err, events.ErrInvalid) &&
		!errors.Is(err, events.ErrUnknownType) && !errors.Is(err, events.ErrNewerVersion) {
		t.Fatalf("error %v wraps no sentinel of the events package", err)
	}
	if len(err.Error()) > maxErrorLen {
		t.Fatalf("error message of %d bytes, want at most %d", len(err.Error()), maxErrorLen)
	}
}

// checkAccepted fails t unless e, which Decode or Validate accepted, is
// valid again, normalised, on a subject of valid tokens, and encodes to a
// form that decodes to the same event or that the Publisher rejects as too
// large.
func checkAccepted(t *testing.T, e *events.Event) {
	t.Helper()
	user := e.User
	if err := events.Validate(e); err != nil {
		t.Fatalf("Validate of an accepted event = %v", err)
	}
	if e.User != user {
		t.Fatalf("Validate changed the normalised user %q to %q", user, e.User)
	}
	checkSubject(t, events.Subject(e))

	data, err := events.Encode(e)
	if err != nil {
		// Times outside the years 0 to 9999 have no JSON form; the
		// Publisher reports them as invalid.
		return
	}
	if len(data) > events.MaxEventSize {
		return
	}
	again, err := events.Decode(data)
	if err != nil {
		t.Fatalf("Decode of the encoded event = %v\n%s", err, data)
	}
	reencoded, err := events.Encode(again)
	if err != nil {
		t.Fatal(err)
	}
	if string(reencoded) != string(data) {
		t.Fatalf("round trip changed the event:\n%s\n%s", data, reencoded)
	}
}

// checkSubject fails t unless subject is a NATS subject of non-empty tokens
// without wildcards or white space.
func checkSubject(t *testing.T, subject string) {
	t.Helper()
	for _, token := range strings.Split(subject, ".") {
		if token == "" || token == "*" || token == ">" {
			t.Fatalf("subject %q has an empty or wildcard token", subject)
		}
		if strings.IndexFunc(token, func(r rune) bool { return unicode.IsSpace(r) || r < 0x20 || r == utf8.RuneError }) >= 0 {
			t.Fatalf("subject %q has white space or control characters", subject)
		}
	}
}

// FuzzDecode checks that Decode never panics, rejects input with one of the
// package's sentinels and a short message, and accepts only events that
// survive Validate and an encoding round trip.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"id":"01JEXAMPLE0000000000000000","type":"session.bound","v":1,"time":"2026-12-04T10:00:00.123Z","node":"xmpp-1","user":"alice@example.test","client":{"id":"c1","software":"Gajim"},"session":{"id":"s1","resource":"gajim.ABC"}}`,
		`{"id":"e2","type":"grant.issued","v":1,"time":"2026-12-04T10:00:00Z","node":"xmpp-1","user":"Alice@Example.TEST","grant":{"id":"g1","permission":"normal","expires":"2027-01-01T00:00:00Z"}}`,
		`{"id":"e3","type":"node.started","v":1,"time":"2026-12-04T10:00:00Z","node":"xmpp-2","boot":"b1"}`,
		`{"id":"e4","type":"fast.minted","v":1,"time":"2026-12-04T10:00:00Z","node":"n","user":"a@b.c","client":{"id":"c"},"fast":{"fingerprint":"sha256:x"}}`,
		`{"id":"e5","type":"client.revoked","v":1,"time":"2026-12-04T10:00:00Z","node":"clientele","user":"a@b.c","target":"client/abc","actor":"a@b.c"}`,
		`{"id":"e6","type":"auth.password","v":2,"time":"2026-12-04T10:00:00Z","node":"n","user":"a@b.c"}`,
		`{"id":"e7","type":"session.teleported","v":1,"time":"2026-12-04T10:00:00Z","node":"n","user":"a@b.c"}`,
		`{"id":"e8","type":"auth.password","v":1,"time":"2026-12-04T10:00:00Z","node":"n","user":"a@b.c/res","session":{"id":"s"}}`,
		`{"id":"e9","type":"session.bound","v":1,"time":"0001-01-01T00:00:00Z","node":"n.1","user":"a@b.c"}`,
		`{"id":"e 10","type":"auth.password","v":1,"time":"2026-12-04T10:00:00Z","node":"n","user":"a@b.c","session":{"id":"s\u0000"}}`,
		`{"id":"e11","type":"grant.used","v":1,"time":"2026-12-04T10:00:00Z","node":"n","user":"a@b.c","grant":{"id":"g","permission":"root"}}`,
		`{"id":"e12","type":"auth.password","v":1,"time":"2026-12-04T10:00:00Z","node":"n","user":"a@b.c","session":{"id":"s"},"client":null,"grant":null}`,
		`{"id":1,"type":[],"v":"1"}`,
		`{"id":"e13","id":"e14","type":"password.changed","v":1,"time":"2026-12-04T10:00:00Z","node":"n","user":"a@b.c"}`,
		`[{"id":"e15"}]`,
		`null`,
		`{"time":"+10000-01-01T00:00:00Z"}`,
		`{"a":{"b":{"c":{"d":{"e":{"f":{}}}}}}}`,
		"\xff\xfe{",
		``,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(strings.Repeat("[", 100_000)))
	f.Add([]byte(`{"id":"` + strings.Repeat("x", events.MaxEventSize) + `"}`))
	f.Add([]byte(`{"id":"e16","type":"auth.password","v":1,"time":"2026-12-04T10:00:00Z","node":"n","user":"a@b.c","session":{"id":"s"},"reason":"` + strings.Repeat("<", events.MaxFieldLen) + `"}`))

	// shared is reused across inputs, as a projector reuses its buffers.
	var shared events.Decoded
	f.Fuzz(func(t *testing.T, data []byte) {
		withinDeadline(t, func() {
			e, err := events.Decode(data)
			checkShared(t, &shared, data, e, err)
			if err != nil {
				checkRejection(t, err)
				if len(data) > events.MaxEventSize && !errors.Is(err, events.ErrMalformed) {
					t.Fatalf("Decode of %d bytes = %v, want ErrMalformed for the size", len(data), err)
				}
				return
			}
			if len(data) > events.MaxEventSize {
				t.Fatalf("Decode accepted %d bytes, over MaxEventSize", len(data))
			}
			checkAccepted(t, e)
		})
	})
}

// checkShared checks that Decoded.Decode gives what Decode gave.
func checkShared(t *testing.T, d *events.Decoded, data []byte, want *events.Event, wantErr error) {
	t.Helper()
	err := d.Decode(data)
	if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
		t.Fatalf("Decoded.Decode error = %v, Decode error = %v", err, wantErr)
	}
	if want != nil && !reflect.DeepEqual(d.Event, *want) {
		t.Fatalf("Decoded.Decode = %+v, Decode = %+v", d.Event, *want)
	}
}

// FuzzValidate builds events field by field, so that the fuzzer reaches
// the rules of every type without first finding valid JSON.
func FuzzValidate(f *testing.F) {
	type seed struct {
		typ                                            string
		v                                              int
		id, node, user, clientID, sessionID, resource  string
		grantID, permission, fingerprint, target, boot string
		text                                           string
		unix                                           int64
	}
	const at = 1796378400 // 2026-12-04T10:00:00Z
	seeds := []seed{
		{"session.bound", 1, "e1", "xmpp-1", "alice@example.test", "c1", "s1", "gajim.ABC", "", "", "", "", "", "Gajim", at},
		{"auth.token", 1, "e2", "xmpp-1", "Alice@Example.Test", "", "s2", "", "g1", "restricted", "", "", "", "", at},
		{"fast.minted", 1, "e3", "n", "a@b.c", "c", "", "", "", "", "sha256:x", "", "", "", at},
		{"client.revoked", 1, "e4", "clientele", "a@b.c", "", "", "", "", "", "", "client/x", "", "", at},
		{"node.started", 1, "e5", "xmpp-2", "", "", "", "", "", "", "", "", "boot-1", "", at},
		{"node.heartbeat", 1, "e6", "xmpp-2", "a@b.c", "", "", "", "", "", "", "", "", "", at},
		{"grant.issued", 1, "e7", "n", "a@b.c", "", "", "", "g", "root", "", "", "", "", at},
		{"session.bound", 2, "e8", "n", "a@b.c", "", "s", "r", "", "", "", "", "", "", at},
		{"auth.password", 1, "e 9", "n.1", "a@b.c/r", "", "s\x00", "", "", "", "", "", "", "", 0},
		{"account.deleted", 1, "e10", "n", "@b.c", "", "", "", "", "", "", "", "", strings.Repeat("<", events.MaxFieldLen), at},
		{"password.changed", 1, "e11", "n", "a@b.c", "", "", "", "", "", "", "", "", strings.Repeat("x", events.MaxFieldLen+1), at},
		{"auth.password", 1, "e12", "n", "a@b.c", "", "s", "", "", "", "", "", "", "", 253402300800}, // year 10000
	}
	for _, s := range seeds {
		f.Add(s.typ, s.v, s.id, s.node, s.user, s.clientID, s.sessionID, s.resource,
			s.grantID, s.permission, s.fingerprint, s.target, s.boot, s.text, s.unix)
	}

	f.Fuzz(func(t *testing.T, typ string, v int, id, node, user, clientID, sessionID, resource,
		grantID, permission, fingerprint, target, boot, text string, unix int64) {
		e := &events.Event{
			ID: id, Type: events.Type(typ), V: v, Time: time.Unix(unix, 0).UTC(), Node: node, User: user,
			Mechanism: text, Reason: text, Target: target, Boot: boot, Actor: text, Request: text, IP: text,
			Client:  &events.Client{ID: clientID, Software: text, Version: text, URI: text, Device: text},
			Session: &events.Session{ID: sessionID, Resource: resource},
			Grant:   &events.Grant{ID: grantID, Name: text, URI: text, SoftwareID: text, SoftwareVersion: text, Permission: permission},
			Fast:    &events.Fast{Fingerprint: fingerprint},
		}
		if events.Type(typ).IsNode() {
			e.Client, e.Session, e.Grant, e.Fast = nil, nil, nil, nil
		}
		var err error
		withinDeadline(t, func() { err = events.Validate(e) })
		if err != nil {
			checkRejection(t, err)
			var fe *events.FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("Validate = %v, want a FieldError that names the field", err)
			}
			return
		}
		checkAccepted(t, e)
	})
}

// FuzzDecodeCommand checks that DecodeCommand never panics and accepts
// only commands with an id, a type and a user.
func FuzzDecodeCommand(f *testing.F) {
	seeds := []string{
		`{"id":"r1","type":"revoke","time":"2026-12-04T10:00:00Z","user":"a@b.c","target":"client/x","client_id":"c1","sessions":[{"node":"xmpp-1","id":"s1"}],"grants":["g1"],"fast":["sha256:x"]}`,
		`{"id":"r2","type":"revoke","user":"a@b.c","resources":["laptop"]}`,
		`{"id":"","type":"revoke","user":"a@b.c"}`,
		`{"sessions":[null,{"node":1}]}`,
		`not json`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := events.DecodeCommand(data)
		if err != nil {
			if !errors.Is(err, events.ErrMalformed) && !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("DecodeCommand = %v, wraps no sentinel", err)
			}
			return
		}
		if c.ID == "" || c.Type == "" || c.User == "" {
			t.Fatalf("DecodeCommand accepted %+v without id, type or user", c)
		}
	})
}

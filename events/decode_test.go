package events

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// everyField is an event with every field of the wire form set.
func everyField() *Event {
	at := time.Date(2026, 12, 4, 10, 0, 0, 123456789, time.UTC)
	return &Event{
		ID: "01JEXAMPLE0000000000000000", Type: SessionBound, V: 1, Time: at, Node: "xmpp-1", User: "alice@example.test",
		Client:  &Client{ID: "c1", Software: "Gajim", Version: "1.9.5", URI: "https://gajim.org/?a=1&b=<2>", Device: "Juliet's laptop"},
		Session: &Session{ID: "s1", Resource: "gajim.ABC"},
		Grant: &Grant{ID: "g1", Name: "Movim", URI: "https://movim.eu/", SoftwareID: "movim", SoftwareVersion: "0.29",
			Permission: PermissionNormal, Expires: at.Add(time.Hour)},
		Fast:      &Fast{Fingerprint: "sha256:abc", Expires: at.Add(2 * time.Hour)},
		Mechanism: "SCRAM-SHA-256", Reason: "line\nbreak \"quoted\" \\ tab\t", Boot: "b1", Target: "client/x", Actor: "admin",
		Request: "r1", IP: "192.0.2.1", UserKey: "abcdefghijklmnop",
	}
}

// decodeBoth decodes data with decodeFast and with encoding/json.
func decodeBoth(data []byte) (fast Event, fastOK bool, ref Event, refErr error) {
	fastOK = decodeFast(data, &fast)
	refErr = json.Unmarshal(data, &ref)
	return fast, fastOK, ref, refErr
}

func TestDecodeFastTakesEncodedEvents(t *testing.T) {
	full := everyField()
	tests := []struct {
		name  string
		event *Event
	}{
		{"every field", full},
		{"node event", &Event{ID: "n1", Type: NodeStarted, V: 1, Time: full.Time, Node: "xmpp-2", Boot: "boot-7"}},
		{"non-ASCII text", &Event{ID: "u1", Type: AuthPassword, V: 1, Time: full.Time, Node: "n", User: "jürgen@example.test",
			Client: &Client{Device: "Téléphone de Jürgen \u2028 ✓"}, Session: &Session{ID: "s"}}},
		{"control characters", &Event{ID: "c1", Type: SessionUnbound, V: 1, Time: full.Time, Node: "n", User: "a@b.test",
			Session: &Session{ID: "s"}, Reason: "bell\a nul\x00 esc\x1b"}},
		{"empty bodies", &Event{ID: "e1", Type: GrantUsed, V: 1, Time: full.Time, Node: "n", User: "a@b.test",
			Client: &Client{}, Session: &Session{}, Grant: &Grant{}, Fast: &Fast{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := Encode(tc.event)
			if err != nil {
				t.Fatal(err)
			}
			fast, ok, ref, refErr := decodeBoth(data)
			if refErr != nil {
				t.Fatalf("encoding/json: %v", refErr)
			}
			if !ok {
				t.Fatalf("decodeFast rejected the output of Encode: %s", data)
			}
			if !reflect.DeepEqual(fast, ref) {
				t.Errorf("decodeFast = %+v\nencoding/json = %+v", fast, ref)
			}
		})
	}
}

// TestDecodeFastKnowsEveryField fails when Event gains a JSON field that
// decodeFast does not read, which would send every event with it to the
// slow path.
func TestDecodeFastKnowsEveryField(t *testing.T) {
	data, err := Encode(everyField())
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		t.Fatal(err)
	}
	if n := reflect.TypeFor[Event]().NumField(); len(keys) != n {
		t.Fatalf("everyField sets %d of the %d fields of Event; set the new ones", len(keys), n)
	}
	var e Event
	if !decodeFast(data, &e) {
		t.Errorf("decodeFast rejected an event with every field: %s", data)
	}
}

func TestDecodeFastLeavesOthersToJSON(t *testing.T) {
	const head = `{"id":"x1","type":"auth.password","v":1,"time":"2026-12-04T10:00:00Z","node":"n","user":"a@b.test"`
	tests := []struct {
		name string
		data string
	}{
		{"unknown key", head + `,"colour":"blue"}`},
		{"repeated key", head + `,"node":"m"}`},
		{"repeated nested key", head + `,"session":{"id":"s","id":"t"}}`},
		{"key in other case", `{"ID":"x1","type":"auth.password","v":1}`},
		{"null body", head + `,"client":null}`},
		{"null string", head + `,"reason":null}`},
		{"surrogate pair", head + `,"reason":"\ud83d\ude00"}`},
		{"lone surrogate", head + `,"reason":"\ud83d"}`},
		{"invalid UTF-8", head + ",\"reason\":\"\xff\xfe\"}"},
		{"fraction version", `{"id":"x1","type":"auth.password","v":1.0}`},
		{"exponent version", `{"id":"x1","type":"auth.password","v":1e0}`},
		{"huge version", `{"id":"x1","type":"auth.password","v":123456789012345678901}`},
		{"leading zero", `{"id":"x1","v":01}`},
		{"time with escape", `{"id":"x1","time":"2026-12-04T10:00:00\u005a"}`},
		{"invalid time", `{"id":"x1","time":"yesterday"}`},
		{"number as string", `{"id":1}`},
		{"trailing data", head + `} {}`},
		{"trailing comma", head + `,}`},
		{"array", `[1,2]`},
		{"truncated", head},
		{"unknown escape", head + `,"reason":"\q"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e Event
			if decodeFast([]byte(tc.data), &e) {
				t.Errorf("decodeFast accepted %s", tc.data)
			}
			// Decode must still give what encoding/json gives.
			got, gotErr := Decode([]byte(tc.data))
			var ref Event
			refErr := json.Unmarshal([]byte(tc.data), &ref)
			if (gotErr == nil) != (refErr == nil && Validate(&ref) == nil) {
				t.Errorf("Decode error = %v, encoding/json error = %v", gotErr, refErr)
			}
			if refErr == nil && got != nil && !reflect.DeepEqual(*got, ref) {
				t.Errorf("Decode = %+v, encoding/json = %+v", *got, ref)
			}
		})
	}
}

// FuzzFastPathDecode checks that decodeFast accepts only input that
// encoding/json decodes to the same Event.
func FuzzFastPathDecode(f *testing.F) {
	full, _ := Encode(everyField())
	f.Add(full)
	f.Add([]byte(`{"id":"a","type":"node.started","v":1,"time":"2026-12-04T10:00:00.5+02:00","node":"n","boot":"b"}`))
	f.Add([]byte(` { "id" : "a\u00e9\/\"" , "v" : -0 , "grant" : { "expires" : "2026-01-02T03:04:05Z" } } `))
	f.Add([]byte(`{"session":{},"fast":{"fingerprint":"sha256:x"},"client":{"id":""}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok, ref, refErr := decodeBoth(data)
		if !ok {
			return
		}
		if refErr != nil {
			t.Fatalf("decodeFast accepted input that encoding/json rejects (%v): %q", refErr, data)
		}
		if !reflect.DeepEqual(fast, ref) {
			t.Fatalf("decodeFast and encoding/json differ on %q\nfast: %+v\njson: %+v", data, fast, ref)
		}
	})
}

func TestIsNormalBareJIDMatchesParse(t *testing.T) {
	accepted := []string{"alice@example.test", "user12@xmpp.example.org", "a.b_c-d+e@x-y.z9", "1@2.3.4.5"}
	rejected := []string{
		"Alice@example.test", "alice@Example.test", "alice@example.test.", "@example.test", "alice",
		"alice@example.test/phone", "alice@-x.test", "alice@x-.test", "alice@xn--bcher-kva.test",
		"alice@exa_mple.test", "al ice@example.test", "alice@@example.test", "jürgen@example.test",
		"alice@" + strings.Repeat("a", 64) + ".test", "alice@",
	}
	for _, user := range accepted {
		if !isNormalBareJID(user) {
			t.Errorf("isNormalBareJID(%q) = false, want true", user)
		}
		checkNormalJID(t, user)
	}
	for _, user := range rejected {
		if isNormalBareJID(user) {
			t.Errorf("isNormalBareJID(%q) = true, want false", user)
		}
	}
}

// checkNormalJID fails unless the full JID check accepts user unchanged.
func checkNormalJID(t *testing.T, user string) {
	t.Helper()
	e := Event{User: user}
	if err := validateUserFull(&e); err != nil {
		t.Fatalf("isNormalBareJID accepted %q, which the full check rejects: %v", user, err)
	}
	if e.User != user {
		t.Fatalf("isNormalBareJID accepted %q, which normalises to %q", user, e.User)
	}
}

func FuzzIsNormalBareJID(f *testing.F) {
	for _, s := range []string{"alice@example.test", "a-b@c--d.e", "x@1.2.3.4", "a+b@c.d-e.f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, user string) {
		if isNormalBareJID(user) {
			checkNormalJID(t, user)
		}
	})
}

// plainEvent is an event with every field set to text that encodeFast
// writes itself.
func plainEvent() *Event {
	e := everyField()
	e.Client.URI = "https://gajim.org/"
	e.Client.Device = "laptop"
	e.Reason = "logged out"
	return e
}

func TestEncodeFastMatchesJSON(t *testing.T) {
	tests := []struct {
		name string
		e    *Event
		fast bool
	}{
		{"every field", plainEvent(), true},
		{"node event", &Event{ID: "n1", Type: NodeStarted, V: 1, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 3600)), Node: "n", Boot: "b"}, true},
		{"empty bodies", &Event{Client: &Client{}, Session: &Session{}, Grant: &Grant{}, Fast: &Fast{}}, true},
		{"HTML characters", everyField(), false},
		{"non-ASCII", &Event{ID: "x", Client: &Client{Device: "Téléphone"}}, false},
		{"year out of range", &Event{ID: "x", Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := encodeFast(tc.e)
			if ok != tc.fast {
				t.Fatalf("encodeFast took the event: %v, want %v", ok, tc.fast)
			}
			want, wantErr := json.Marshal(tc.e)
			if ok && (wantErr != nil || string(got) != string(want)) {
				t.Errorf("encodeFast = %s\nencoding/json = %s (%v)", got, want, wantErr)
			}
			data, err := Encode(tc.e)
			if (err == nil) != (wantErr == nil) || string(data) != string(want) {
				t.Errorf("Encode = %s, %v; want %s, %v", data, err, want, wantErr)
			}
		})
	}
}

// FuzzEncodeFast checks that encodeFast writes what encoding/json writes
// whenever it takes an event.
func FuzzEncodeFast(f *testing.F) {
	f.Add("01J", "auth.password", 1, int64(1764842400123456789), "xmpp-1", "a@b.test", "c1", "Gajim", "s1", "g1", "sha256:aa", "reason")
	f.Add("", "", 0, int64(0), "", "", "", "", "", "", "", "")
	f.Add("x<y", "t\u2028", -3, int64(-62135596800), "n", "ü@b", "\x00", "\xff", "a\"b", "\\", "&", "\t")
	f.Fuzz(func(t *testing.T, id, typ string, v int, nanos int64, node, user, client, software, session, grant, fp, reason string) {
		e := &Event{
			ID: id, Type: Type(typ), V: v, Time: time.Unix(0, nanos).UTC(), Node: node, User: user, Reason: reason,
			Client: &Client{ID: client, Software: software}, Session: &Session{ID: session, Resource: software},
			Grant: &Grant{ID: grant, Name: software, Expires: time.Unix(0, nanos/3)}, Fast: &Fast{Fingerprint: fp},
		}
		got, ok := encodeFast(e)
		if !ok {
			return
		}
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("encodeFast took an event that encoding/json rejects: %v", err)
		}
		if string(got) != string(want) {
			t.Fatalf("encodeFast = %s\nencoding/json = %s", got, want)
		}
	})
}

package projector

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
)

func TestStampOrderMatchesTime(t *testing.T) {
	times := []time.Time{
		{},
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Unix(0, 0),
		time.Unix(0, 1),
		atMinute(0),
		atMinute(0).Add(time.Nanosecond),
		time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, a := range times {
		for _, b := range times {
			sa, sb := stampOf(a), stampOf(b)
			name := fmt.Sprintf("%v vs %v", a, b)
			if got, want := sa.after(sb), a.After(b); got != want && !clamped(a, b) {
				t.Errorf("%s: after = %v, want %v", name, got, want)
			}
			if got, want := sa.before(sb), a.Before(b); got != want && !clamped(a, b) {
				t.Errorf("%s: before = %v, want %v", name, got, want)
			}
		}
	}
}

// clamped reports whether a and b are distinct times that stamps cannot
// tell apart: both before 1678, or the epoch and 1ns after it.
func clamped(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return false
	}
	return stampOf(a) == stampOf(b)
}

func TestStampRoundTrip(t *testing.T) {
	for _, tm := range []time.Time{{}, atMinute(3).Add(123 * time.Nanosecond), time.Date(1950, 6, 1, 0, 0, 0, 0, time.UTC)} {
		if got := stampOf(tm).time(); !got.Equal(tm) {
			t.Errorf("stampOf(%v).time() = %v", tm, got)
		}
	}
	if got := stampOf(time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)); got != math.MinInt64 {
		t.Errorf("a time before 1678 gives stamp %d, want the minimum", got)
	}
	if got := stampOf(time.Unix(0, 0)); got == 0 {
		t.Error("the epoch gives stamp 0, which means no time")
	}
}

func TestClientKeyPacking(t *testing.T) {
	tests := []struct {
		name      string
		id        string
		packedLen int
	}{
		{"canonical UUID", "6ba7b810-9dad-41d1-80b4-00c04fd430c8", 17},
		{"upper-case UUID", "6BA7B810-9DAD-41D1-80B4-00C04FD430C8", 38},
		{"UUID without dashes", "6ba7b8109dad41d180b400c04fd430c8", 34},
		{"short id", "gajim-1", 9},
		{"id that looks packed", "u0123456789abcdef", 19},
		{"empty id", "", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			packed := string(appendClientKey(nil, tc.id))
			if len(packed) != tc.packedLen {
				t.Errorf("packed key has %d bytes, want %d", len(packed), tc.packedLen)
			}
			if got := unpackKey(packed); got != prefixClient+tc.id {
				t.Errorf("unpackKey = %q, want %q", got, prefixClient+tc.id)
			}
			if got := clientIDOf(packed); got != tc.id {
				t.Errorf("clientIDOf = %q, want %q", got, tc.id)
			}
		})
	}
	if res := string(appendResourceKey(nil, "gajim.A")); unpackKey(res) != "r:gajim.A" || clientIDOf(res) != "" {
		t.Errorf("resource key %q unpacks to %q", res, unpackKey(res))
	}
}

func TestFingerprintPacking(t *testing.T) {
	digest := "sha256:" + strings.Repeat("0f", 32)
	tests := []struct {
		fingerprint string
		packedLen   int
	}{
		{digest, 33},
		{strings.ToUpper(digest), 1 + len(digest)},
		{"sha256:abc", 11},
		{"sha512:" + strings.Repeat("0f", 32), 1 + len(digest)},
	}
	for _, tc := range tests {
		packed := string(appendFingerprint(nil, tc.fingerprint))
		if len(packed) != tc.packedLen {
			t.Errorf("%q packs to %d bytes, want %d", tc.fingerprint, len(packed), tc.packedLen)
		}
		if got := unpackFingerprint(packed); got != tc.fingerprint {
			t.Errorf("%q unpacks to %q", tc.fingerprint, got)
		}
	}
}

// foldBothOrders folds evs in order and in reverse, and fails when the
// listings of alice differ.
func foldBothOrders(t *testing.T, evs []*events.Event) []ClientView {
	t.Helper()
	forward := foldEvents(t, evs)
	backward := NewState()
	for i := len(evs) - 1; i >= 0; i-- {
		if err := backward.Apply(evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	want := forward.Clients(alice, defaultView)
	if got := backward.Clients(alice, defaultView); !reflect.DeepEqual(got, want) {
		t.Errorf("listing depends on order\nforward:  %s\nbackward: %s", toJSON(want), toJSON(got))
	}
	return want
}

func TestGrantLinkIndependentOfOrder(t *testing.T) {
	views := foldBothOrders(t, []*events.Event{
		testEvent(events.GrantIssued, 1, withClientID("client-b"), withGrant(events.Grant{ID: "g1", Name: "App"})),
		testEvent(events.GrantUsed, 2, withClientID("client-a"), withGrantID("g1")),
	})
	if len(views) != 1 || views[0].ID != clientKeyID(alice, "client-a") {
		t.Errorf("grant linked to clients b and a lists %s, want the smaller client id a", toJSON(views))
	}
}

func TestAgentTieIndependentOfOrder(t *testing.T) {
	older := events.Client{ID: "gajim-1", Software: "Gajim", Version: "1.8.0"}
	newer := events.Client{ID: "gajim-1", Software: "Gajim", Version: "1.9.5"}
	views := foldBothOrders(t, []*events.Event{
		testEvent(events.FastMinted, 1, withClient(older), withFast("sha256:aa", atMinute(100))),
		testEvent(events.FastMinted, 1, withClient(newer), withFast("sha256:bb", atMinute(100))),
	})
	if len(views) != 1 || views[0].UserAgent.Version != "1.9.5" {
		t.Errorf("two agents at one time list %s, want the greater version 1.9.5", toJSON(views))
	}
}

// manySessions returns the events of n sessions of alice, each bound, some
// of them unbound, with one grant and FAST token each, enough to build the
// account's index.
func manySessions(n int) []*events.Event {
	var evs []*events.Event
	for i := range n {
		sid, client := fmt.Sprintf("s%03d", i), fmt.Sprintf("c-%03d", i%7)
		evs = append(evs,
			testEvent(events.AuthToken, i, withClient(events.Client{ID: client, Software: "Gajim"}), withSession(sid, ""), withGrantID("g"+sid)),
			testEvent(events.SessionBound, i, withSession(sid, "res-"+sid)),
			testEvent(events.FastMinted, i, withClientID(client), withFast("sha256:"+sid, atMinute(500))),
		)
		if i%3 == 0 {
			evs = append(evs, testEvent(events.SessionUnbound, i+1, withSession(sid, "")))
		}
	}
	return evs
}

func TestIndexedAccountFindsRecords(t *testing.T) {
	evs := manySessions(3 * indexThreshold)
	s := foldEvents(t, evs)
	again := foldEvents(t, append(evs, evs...))
	a := s.Users[alice]
	if a.index() == nil {
		t.Fatalf("an account with %d sessions has no index", len(a.Sessions))
	}
	// Every third session ended, and the fold dropped it.
	n := 3 * indexThreshold
	if live := n - (n+2)/3; len(a.Sessions) != live {
		t.Errorf("%d sessions, want the %d that did not end", len(a.Sessions), live)
	}
	if len(a.grants) != n {
		t.Errorf("%d grants, want %d", len(a.grants), n)
	}
	for i, ss := range a.Sessions {
		if got := a.findSession(ss.Node, ss.ID); got != i {
			t.Errorf("findSession(%s, %s) = %d, want %d", ss.Node, ss.ID, got, i)
		}
	}
	if got, want := toJSON(again.Clients(alice, defaultView)), toJSON(s.Clients(alice, defaultView)); got != want {
		t.Errorf("applying every event twice changed the listing\nonce:  %s\ntwice: %s", want, got)
	}
}

// richHistory has every kind of record: sessions past the index
// threshold, grants with metadata, FAST tokens, legacy clients, a revoke,
// a password change and a deleted account.
func richHistory() []*events.Event {
	evs := manySessions(2 * indexThreshold)
	uuid := events.Client{ID: "6ba7b810-9dad-41d1-80b4-00c04fd430c8", Software: "Conversations", Version: "2.17.0", Device: "phone"}
	return append(evs,
		testEvent(events.NodeStarted, 0, withBoot("boot-1")),
		testEvent(events.AuthPassword, 50, withClient(uuid), withSession("p1", "")),
		testEvent(events.SessionBound, 51, withSession("p1", "conv.X")),
		testEvent(events.FastMinted, 52, withClient(uuid), withFast("sha256:"+strings.Repeat("ab", 32), atMinute(900))),
		testEvent(events.GrantIssued, 53, withGrant(events.Grant{ID: "web", Name: "Movim", URI: "https://movim.eu/", Permission: events.PermissionRestricted, Expires: atMinute(800)})),
		testEvent(events.AuthPassword, 54, forUser(bob), withSession("legacy", "")),
		testEvent(events.SessionBound, 55, forUser(bob), withSession("legacy", "pidgin")),
		testEvent(events.ClientRevoked, 56, withTarget(clientKeyID(alice, "c-001"))),
		testEvent(events.PasswordChanged, 57, forUser(bob)),
		testEvent(events.AccountDeleted, 58, forUser("carol@example.test")),
	)
}

func TestSnapshotRoundTripKeepsRecords(t *testing.T) {
	s := foldEvents(t, richHistory())
	data, err := EncodeSnapshot(s, 42)
	if err != nil {
		t.Fatal(err)
	}
	got, seq, err := DecodeSnapshot(data)
	if err != nil {
		t.Fatal(err)
	}
	if seq != 42 {
		t.Errorf("seq = %d, want 42", seq)
	}

	if !reflect.DeepEqual(got.Users, s.Users) {
		t.Error("decoded accounts differ from the encoded ones")
	}
	if !reflect.DeepEqual(got.Nodes, s.Nodes) {
		t.Errorf("decoded nodes %s differ from %s", toJSON(got.Nodes), toJSON(s.Nodes))
	}
	for _, user := range []string{alice, bob, "carol@example.test"} {
		if g, w := toJSON(got.Clients(user, defaultView)), toJSON(s.Clients(user, defaultView)); g != w {
			t.Errorf("%s lists %s after the round trip, want %s", user, g, w)
		}
	}

	// The decoded state goes on folding like the original.
	more := testEvent(events.SessionUnbound, 59, withSession("p1", ""))
	for _, st := range []*State{s, got} {
		if err := st.Apply(more); err != nil {
			t.Fatal(err)
		}
	}
	if g, w := toJSON(got.Clients(alice, defaultView)), toJSON(s.Clients(alice, defaultView)); g != w {
		t.Errorf("after one more event the decoded state lists %s, want %s", g, w)
	}
}

func TestSnapshotBodyRejectsTruncation(t *testing.T) {
	s := foldEvents(t, richHistory())
	enc := newSnapshotEncoder(7, atMinute(0))
	for user, a := range s.Users {
		enc.account(user, a)
	}
	enc.finish(s.Nodes)
	body := enc.take()
	if _, _, err := decodeSnapshotBody(body); err != nil {
		t.Fatalf("complete body: %v", err)
	}
	for n := range len(body) {
		if _, _, err := decodeSnapshotBody(body[:n]); err == nil {
			t.Fatalf("body cut to %d of %d bytes decoded without error", n, len(body))
		}
	}
	if _, _, err := decodeSnapshotBody(append(body, 0)); err == nil {
		t.Error("body with a trailing byte decoded without error")
	}
}

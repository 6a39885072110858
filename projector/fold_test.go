package projector

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
)

const (
	alice = "alice@example.test"
	bob   = "bob@example.test"
	node1 = "xmpp-1"
	node2 = "xmpp-2"
)

// epoch is minute 0 of every hand-written history in this file.
var epoch = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func atMinute(minute int) time.Time { return epoch.Add(time.Duration(minute) * time.Minute) }

// defaultView judges access one hour after epoch, with a heartbeat timeout
// long enough that no node of a history up to minute 59 counts as silent.
var defaultView = ViewOptions{Now: atMinute(60), HeartbeatTimeout: time.Hour}

// User agents of the clients in the histories.
var (
	gajimNew = events.Client{ID: "gajim-1", Software: "Gajim", Version: "1.9.5", URI: "https://gajim.org/", Device: "laptop"}
	gajimOld = events.Client{ID: "gajim-1", Software: "Gajim", Version: "1.8.0", URI: "https://gajim.org/", Device: "laptop"}
	gajimTwo = events.Client{ID: "gajim-2", Software: "Gajim", Version: "1.8.0", Device: "desktop"}
	dino     = events.Client{ID: "dino-1", Software: "Dino", Version: "0.4.4"}
	conv     = events.Client{ID: "conv-1", Software: "Conversations", Version: "2.17.0", Device: "phone"}
)

func uaOf(c events.Client) UserAgent {
	return UserAgent{Software: c.Software, Version: c.Version, URI: c.URI, Device: c.Device}
}

func clientKeyID(user, clientID string) string { return ListingID(user, "c:"+clientID) }

func legacyKeyID(user, resource string) string { return ListingID(user, "r:"+resource) }

var eventCount atomic.Int64

// eventOption fills one part of a test event.
type eventOption func(*events.Event)

// testEvent returns an event of type typ at the given minute, published by
// node1 about alice unless an option sets another node or user. Every call
// gets a new event id.
func testEvent(typ events.Type, minute int, opts ...eventOption) *events.Event {
	e := &events.Event{
		ID:   fmt.Sprintf("ev%06d", eventCount.Add(1)),
		Type: typ,
		V:    events.Version,
		Time: atMinute(minute),
		Node: node1,
		User: alice,
	}
	if typ.IsNode() {
		e.User = ""
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

func onNode(node string) eventOption { return func(e *events.Event) { e.Node = node } }

func forUser(user string) eventOption { return func(e *events.Event) { e.User = user } }

func withClient(c events.Client) eventOption { return func(e *events.Event) { e.Client = &c } }

func withClientID(id string) eventOption {
	return func(e *events.Event) { e.Client = &events.Client{ID: id} }
}

func withSession(id, resource string) eventOption {
	return func(e *events.Event) { e.Session = &events.Session{ID: id, Resource: resource} }
}

func withGrant(g events.Grant) eventOption { return func(e *events.Event) { e.Grant = &g } }

func withGrantID(id string) eventOption {
	return func(e *events.Event) { e.Grant = &events.Grant{ID: id} }
}

func withFast(fingerprint string, expires time.Time) eventOption {
	return func(e *events.Event) { e.Fast = &events.Fast{Fingerprint: fingerprint, Expires: expires} }
}

func withTarget(listingID string) eventOption {
	return func(e *events.Event) { e.Target, e.Actor = listingID, alice }
}

func withBoot(boot string) eventOption { return func(e *events.Event) { e.Boot = boot } }

// foldEvents validates every event and applies it to a new State in order.
func foldEvents(t *testing.T, evs []*events.Event) *State {
	t.Helper()
	s := NewState()
	for _, e := range evs {
		if err := events.Validate(e); err != nil {
			t.Fatalf("test history contains an invalid event %s: %v", e.ID, err)
		}
		if err := s.Apply(e); err != nil {
			t.Fatalf("Apply(%s %s) returned %v", e.Type, e.ID, err)
		}
	}
	return s
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("(cannot encode: %v)", err)
	}
	return string(b)
}

// checkViews compares got with want field by field.
func checkViews(t *testing.T, got, want []ClientView) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d clients, want %d\ngot:  %s\nwant: %s", len(got), len(want), toJSON(got), toJSON(want))
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.ID {
			t.Errorf("client %d: id = %q, want %q", i, g.ID, w.ID)
		}
		if g.Type != w.Type {
			t.Errorf("client %d: type = %q, want %q", i, g.Type, w.Type)
		}
		if g.Connected != w.Connected {
			t.Errorf("client %d: connected = %v, want %v", i, g.Connected, w.Connected)
		}
		if !g.FirstSeen.Equal(w.FirstSeen) {
			t.Errorf("client %d: first seen = %v, want %v", i, g.FirstSeen, w.FirstSeen)
		}
		if !g.LastSeen.Equal(w.LastSeen) {
			t.Errorf("client %d: last seen = %v, want %v", i, g.LastSeen, w.LastSeen)
		}
		if !slices.Equal(g.Auth, w.Auth) {
			t.Errorf("client %d: auth = %q, want %q", i, g.Auth, w.Auth)
		}
		if g.Permission != w.Permission {
			t.Errorf("client %d: permission = %q, want %q", i, g.Permission, w.Permission)
		}
		if g.Legacy != w.Legacy {
			t.Errorf("client %d: legacy = %v, want %v", i, g.Legacy, w.Legacy)
		}
		if g.UserAgent != w.UserAgent {
			t.Errorf("client %d: user agent = %+v, want %+v", i, g.UserAgent, w.UserAgent)
		}
	}
}

// foldCase is a history of alice's account and the listing it must give.
type foldCase struct {
	name   string
	events []*events.Event
	// view defaults to defaultView when its Now is zero.
	view ViewOptions
	want []ClientView
}

func (c foldCase) options() ViewOptions {
	if c.view.Now.IsZero() {
		return defaultView
	}
	return c.view
}

// foldCases returns one case for each projection rule. Events are listed in
// delivery order, which is not always time order.
func foldCases() []foldCase {
	return []foldCase{
		{
			name: "session grant and FAST are one client",
			events: []*events.Event{
				testEvent(events.GrantIssued, 1, withClientID("conv-1"), withGrant(events.Grant{
					ID: "g1", Name: "Conversations", URI: "https://conversations.im/",
					SoftwareID: "conversations", SoftwareVersion: "2.17.0", Permission: events.PermissionNormal,
				})),
				testEvent(events.AuthToken, 2, withClient(conv), withSession("s1", ""), withGrantID("g1")),
				testEvent(events.SessionBound, 3, withClientID("conv-1"), withSession("s1", "conv.PH1")),
				testEvent(events.FastMinted, 4, withClientID("conv-1"), withFast("sha256:aa", atMinute(24*60))),
			},
			want: []ClientView{{
				ID: clientKeyID(alice, "conv-1"), Type: TypeSession, Connected: true,
				FirstSeen: atMinute(1), LastSeen: atMinute(3),
				Auth: []string{AuthGrant, AuthFast}, Permission: events.PermissionUnrestricted,
				UserAgent: uaOf(conv),
			}},
		},
		{
			name: "times are min and max out of order",
			events: []*events.Event{
				testEvent(events.GrantUsed, 40, withClientID("gajim-1"), withGrantID("g1")),
				testEvent(events.AuthPassword, 20, onNode(node2), withClient(gajimNew), withSession("s2", "")),
				testEvent(events.SessionBound, 21, onNode(node2), withSession("s2", "gajim.B")),
				testEvent(events.AuthPassword, 5, withClient(gajimNew), withSession("s1", "")),
				testEvent(events.SessionBound, 6, withSession("s1", "gajim.A")),
				testEvent(events.SessionUnbound, 10, withSession("s1", "")),
				testEvent(events.GrantIssued, 2, withClientID("gajim-1"), withGrant(events.Grant{ID: "g1", Permission: events.PermissionNormal})),
			},
			want: []ClientView{{
				ID: clientKeyID(alice, "gajim-1"), Type: TypeSession, Connected: true,
				FirstSeen: atMinute(2), LastSeen: atMinute(40),
				Auth: []string{AuthPassword, AuthGrant}, Permission: events.PermissionUnrestricted,
				UserAgent: uaOf(gajimNew),
			}},
		},
		{
			name: "one of two node sessions unbound stays connected",
			events: []*events.Event{
				testEvent(events.AuthPassword, 1, withClient(gajimNew), withSession("s1", "")),
				testEvent(events.SessionBound, 2, withSession("s1", "gajim.A")),
				testEvent(events.AuthPassword, 3, onNode(node2), withClient(gajimNew), withSession("s2", "")),
				testEvent(events.SessionBound, 4, onNode(node2), withSession("s2", "gajim.B")),
				testEvent(events.SessionUnbound, 5, withSession("s1", "")),
			},
			want: []ClientView{{
				ID: clientKeyID(alice, "gajim-1"), Type: TypeSession, Connected: true,
				FirstSeen: atMinute(1), LastSeen: atMinute(5),
				Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
				UserAgent: uaOf(gajimNew),
			}},
		},
		{
			name: "hibernated session is connected",
			events: []*events.Event{
				testEvent(events.AuthPassword, 1, withClient(gajimNew), withSession("s1", "")),
				testEvent(events.SessionBound, 2, withSession("s1", "gajim.A")),
				testEvent(events.SessionHibernated, 3, withSession("s1", "")),
			},
			want: []ClientView{{
				ID: clientKeyID(alice, "gajim-1"), Type: TypeSession, Connected: true,
				FirstSeen: atMinute(1), LastSeen: atMinute(3),
				Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
				UserAgent: uaOf(gajimNew),
			}},
		},
		{
			name: "resumed session is connected",
			events: []*events.Event{
				testEvent(events.AuthPassword, 1, withClient(gajimNew), withSession("s1", "")),
				testEvent(events.SessionBound, 2, withSession("s1", "gajim.A")),
				testEvent(events.SessionHibernated, 3, withSession("s1", "")),
				testEvent(events.SessionResumed, 4, withSession("s1", "")),
			},
			want: []ClientView{{
				ID: clientKeyID(alice, "gajim-1"), Type: TypeSession, Connected: true,
				FirstSeen: atMinute(1), LastSeen: atMinute(4),
				Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
				UserAgent: uaOf(gajimNew),
			}},
		},
		{
			name: "unbound while hibernated ends session",
			events: []*events.Event{
				testEvent(events.AuthPassword, 1, withClient(gajimNew), withSession("s1", "")),
				testEvent(events.SessionBound, 2, withSession("s1", "gajim.A")),
				testEvent(events.SessionHibernated, 3, withSession("s1", "")),
				testEvent(events.SessionUnbound, 8, withSession("s1", "")),
			},
			want: []ClientView{{
				ID: clientKeyID(alice, "gajim-1"), Type: TypeSession, Connected: false,
				FirstSeen: atMinute(1), LastSeen: atMinute(8),
				Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
				UserAgent: uaOf(gajimNew),
			}},
		},
		{
			name: "new boot ends sessions of previous boot",
			events: []*events.Event{
				testEvent(events.NodeStarted, 0, withBoot("boot-a")),
				testEvent(events.AuthPassword, 1, withClient(gajimNew), withSession("s1", "")),
				testEvent(events.SessionBound, 2, withSession("s1", "gajim.A")),
				testEvent(events.NodeStarted, 10, withBoot("boot-b")),
				testEvent(events.AuthPassword, 11, withClient(dino), withSession("s2", "")),
				testEvent(events.SessionBound, 12, withSession("s2", "dino.A")),
			},
			want: []ClientView{
				{
					ID: clientKeyID(alice, "gajim-1"), Type: TypeSession, Connected: false,
					FirstSeen: atMinute(1), LastSeen: atMinute(2),
					Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
					UserAgent: uaOf(gajimNew),
				},
				{
					ID: clientKeyID(alice, "dino-1"), Type: TypeSession, Connected: true,
					FirstSeen: atMinute(11), LastSeen: atMinute(12),
					Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
					UserAgent: uaOf(dino),
				},
			},
		},
		{
			name: "new boot delivered last ends earlier sessions",
			events: []*events.Event{
				testEvent(events.AuthPassword, 11, withClient(dino), withSession("s2", "")),
				testEvent(events.SessionBound, 12, withSession("s2", "dino.A")),
				testEvent(events.AuthPassword, 1, withClient(gajimNew), withSession("s1", "")),
				testEvent(events.SessionBound, 2, withSession("s1", "gajim.A")),
				testEvent(events.NodeStarted, 10, withBoot("boot-b")),
				testEvent(events.NodeStarted, 0, withBoot("boot-a")),
			},
			want: []ClientView{
				{
					ID: clientKeyID(alice, "gajim-1"), Type: TypeSession, Connected: false,
					FirstSeen: atMinute(1), LastSeen: atMinute(2),
					Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
					UserAgent: uaOf(gajimNew),
				},
				{
					ID: clientKeyID(alice, "dino-1"), Type: TypeSession, Connected: true,
					FirstSeen: atMinute(11), LastSeen: atMinute(12),
					Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
					UserAgent: uaOf(dino),
				},
			},
		},
		{
			name: "node.stopped ends sessions of that node",
			events: []*events.Event{
				testEvent(events.AuthPassword, 1, withClient(gajimNew), withSession("s1", "")),
				testEvent(events.SessionBound, 2, withSession("s1", "gajim.A")),
				testEvent(events.AuthPassword, 3, onNode(node2), withClient(dino), withSession("s2", "")),
				testEvent(events.SessionBound, 4, onNode(node2), withSession("s2", "dino.A")),
				testEvent(events.NodeStopped, 10),
			},
			want: []ClientView{
				{
					ID: clientKeyID(alice, "gajim-1"), Type: TypeSession, Connected: false,
					FirstSeen: atMinute(1), LastSeen: atMinute(2),
					Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
					UserAgent: uaOf(gajimNew),
				},
				{
					ID: clientKeyID(alice, "dino-1"), Type: TypeSession, Connected: true,
					FirstSeen: atMinute(3), LastSeen: atMinute(4),
					Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
					UserAgent: uaOf(dino),
				},
			},
		},
		{
			name: "silent node past timeout ends sessions",
			events: []*events.Event{
				testEvent(events.NodeStarted, 0, withBoot("boot-a")),
				testEvent(events.AuthPassword, 1, withClient(gajimNew), withSession("s1", "")),
				testEvent(events.SessionBound, 2, withSession("s1", "gajim.A")),
				testEvent(events.AuthPassword, 3, onNode(node2), withClient(dino), withSession("s2", "")),
				testEvent(events.SessionBound, 4, onNode(node2), withSession("s2", "dino.A")),
				testEvent(events.NodeHeartbeat, 5),
			},
			// node1 sent its newest event at minute 5. node2 never sent a
			// node event, so the timeout does not apply to it.
			view: ViewOptions{Now: atMinute(60), HeartbeatTimeout: 10 * time.Minute},
			want: []ClientView{
				{
					ID: clientKeyID(alice, "gajim-1"), Type: TypeSession, Connected: false,
					FirstSeen: atMinute(1), LastSeen: atMinute(2),
					Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
					UserAgent: uaOf(gajimNew),
				},
				{
					ID: clientKeyID(alice, "dino-1"), Type: TypeSession, Connected: true,
					FirstSeen: atMinute(3), LastSeen: atMinute(4),
					Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
					UserAgent: uaOf(dino),
				},
			},
		},
		{
			name: "node within timeout keeps sessions",
			events: []*events.Event{
				testEvent(events.NodeStarted, 0, withBoot("boot-a")),
				testEvent(events.AuthPassword, 1, withClient(gajimNew), withSession("s1", "")),
				testEvent(events.SessionBound, 2, withSession("s1", "gajim.A")),
				testEvent(events.NodeHeartbeat, 5),
			},
			view: ViewOptions{Now: atMinute(14), HeartbeatTimeout: 10 * time.Minute},
			want: []ClientView{{
				ID: clientKeyID(alice, "gajim-1"), Type: TypeSession, Connected: true,
				FirstSeen: atMinute(1), LastSeen: atMinute(2),
				Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
				UserAgent: uaOf(gajimNew),
			}},
		},
		{
			name: "password change ends earlier password access",
			events: []*events.Event{
				testEvent(events.AuthPassword, 1, withClient(gajimNew), withSession("s1", "")),
				testEvent(events.SessionBound, 2, withSession("s1", "gajim.A")),
				testEvent(events.SessionUnbound, 3, withSession("s1", "")),
				testEvent(events.AuthPassword, 5, onNode(node2), withClient(conv), withSession("s3", "")),
				testEvent(events.SessionBound, 6, onNode(node2), withSession("s3", "conv.A")),
				testEvent(events.PasswordChanged, 10),
				testEvent(events.AuthPassword, 11, withClient(dino), withSession("s2", "")),
				testEvent(events.SessionBound, 12, withSession("s2", "dino.A")),
			},
			// Gajim has neither access nor a session, so it drops out.
			// Conversations is still connected but lost its password access.
			want: []ClientView{
				{
					ID: clientKeyID(alice, "conv-1"), Type: TypeSession, Connected: true,
					FirstSeen: atMinute(5), LastSeen: atMinute(6),
					Auth: nil, Permission: events.PermissionUnrestricted,
					UserAgent: uaOf(conv),
				},
				{
					ID: clientKeyID(alice, "dino-1"), Type: TypeSession, Connected: true,
					FirstSeen: atMinute(11), LastSeen: atMinute(12),
					Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
					UserAgent: uaOf(dino),
				},
			},
		},
		{
			name: "password change revokes earlier grants and FAST",
			events: []*events.Event{
				testEvent(events.GrantIssued, 1, withClientID("conv-1"), withGrant(events.Grant{ID: "g1", Permission: events.PermissionNormal})),
				testEvent(events.FastMinted, 2, withClientID("conv-1"), withFast("sha256:aa", time.Time{})),
				testEvent(events.GrantIssued, 3, withGrant(events.Grant{ID: "g2", Name: "Calendar", Permission: events.PermissionRestricted})),
				testEvent(events.PasswordChanged, 10),
				testEvent(events.FastMinted, 12, withClientID("conv-1"), withFast("sha256:bb", time.Time{})),
				testEvent(events.GrantIssued, 15, withGrant(events.Grant{ID: "g3", Name: "Backup", Permission: events.PermissionNormal})),
			},
			want: []ClientView{
				{
					ID: clientKeyID(alice, "conv-1"), Type: TypeAccess, Connected: false,
					FirstSeen: atMinute(1), LastSeen: atMinute(1),
					Auth: []string{AuthFast}, Permission: events.PermissionUnrestricted,
				},
				{
					ID: "grant/g3", Type: TypeAccess, Connected: false,
					FirstSeen: atMinute(15), LastSeen: atMinute(15),
					Auth: []string{AuthGrant}, Permission: events.PermissionNormal,
					UserAgent: UserAgent{Software: "Backup"},
				},
			},
		},
		{
			name: "grant past expires time drops out",
			events: []*events.Event{
				testEvent(events.GrantIssued, 1, withGrant(events.Grant{ID: "g1", Name: "Short", Expires: atMinute(30)})),
				testEvent(events.GrantIssued, 2, withGrant(events.Grant{ID: "g2", Name: "Long", Expires: atMinute(90)})),
			},
			want: []ClientView{{
				ID: "grant/g2", Type: TypeAccess, Connected: false,
				FirstSeen: atMinute(2), LastSeen: atMinute(2),
				Auth: []string{AuthGrant}, Permission: events.PermissionUnrestricted,
				UserAgent: UserAgent{Software: "Long"},
			}},
		},
		{
			name: "grant before expires time is listed",
			events: []*events.Event{
				testEvent(events.GrantIssued, 1, withGrant(events.Grant{ID: "g1", Name: "Short", Expires: atMinute(30)})),
			},
			view: ViewOptions{Now: atMinute(29), HeartbeatTimeout: time.Hour},
			want: []ClientView{{
				ID: "grant/g1", Type: TypeAccess, Connected: false,
				FirstSeen: atMinute(1), LastSeen: atMinute(1),
				Auth: []string{AuthGrant}, Permission: events.PermissionUnrestricted,
				UserAgent: UserAgent{Software: "Short"},
			}},
		},
		{
			name: "grant.expired ends grant",
			events: []*events.Event{
				testEvent(events.GrantIssued, 1, withGrant(events.Grant{ID: "g1", Name: "Expired"})),
				testEvent(events.GrantIssued, 2, withGrant(events.Grant{ID: "g2", Name: "Kept"})),
				testEvent(events.GrantExpired, 20, withGrantID("g1")),
			},
			want: []ClientView{{
				ID: "grant/g2", Type: TypeAccess, Connected: false,
				FirstSeen: atMinute(2), LastSeen: atMinute(2),
				Auth: []string{AuthGrant}, Permission: events.PermissionUnrestricted,
				UserAgent: UserAgent{Software: "Kept"},
			}},
		},
		{
			name: "grant.revoked ends grant",
			events: []*events.Event{
				testEvent(events.GrantIssued, 1, withClientID("conv-1"), withGrant(events.Grant{ID: "g1", Permission: events.PermissionNormal})),
				testEvent(events.FastMinted, 2, withClient(conv), withFast("sha256:aa", time.Time{})),
				testEvent(events.GrantRevoked, 5, withGrantID("g1")),
			},
			want: []ClientView{{
				ID: clientKeyID(alice, "conv-1"), Type: TypeAccess, Connected: false,
				FirstSeen: atMinute(1), LastSeen: atMinute(1),
				Auth: []string{AuthFast}, Permission: events.PermissionUnrestricted,
				UserAgent: uaOf(conv),
			}},
		},
		{
			name: "legacy client tracked by resource",
			events: []*events.Event{
				testEvent(events.AuthPassword, 1, withSession("s1", "")),
				testEvent(events.SessionBound, 2, withSession("s1", "laptop")),
			},
			want: []ClientView{{
				ID: legacyKeyID(alice, "laptop"), Type: TypeSession, Connected: true,
				FirstSeen: atMinute(1), LastSeen: atMinute(2),
				Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
				Legacy: true,
			}},
		},
		{
			name: "SASL2 client that never binds is listed",
			events: []*events.Event{
				testEvent(events.AuthPassword, 1, withClient(gajimNew), withSession("s1", "")),
			},
			want: []ClientView{{
				ID: clientKeyID(alice, "gajim-1"), Type: TypeSession, Connected: false,
				FirstSeen: atMinute(1), LastSeen: atMinute(1),
				Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
				UserAgent: uaOf(gajimNew),
			}},
		},
		{
			name: "bind delivered before auth is one client",
			events: []*events.Event{
				testEvent(events.SessionBound, 2, withSession("s1", "gajim.A")),
				testEvent(events.AuthPassword, 1, withClient(gajimNew), withSession("s1", "")),
			},
			want: []ClientView{{
				ID: clientKeyID(alice, "gajim-1"), Type: TypeSession, Connected: true,
				FirstSeen: atMinute(1), LastSeen: atMinute(2),
				Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
				UserAgent: uaOf(gajimNew),
			}},
		},
		{
			name: "connected per node and session id",
			events: []*events.Event{
				// Both sessions have the id s1 and the resource "phone", on
				// different nodes. Only Dino's is still bound.
				testEvent(events.AuthPassword, 1, withClient(gajimNew), withSession("s1", "")),
				testEvent(events.SessionBound, 2, withSession("s1", "phone")),
				testEvent(events.AuthPassword, 3, onNode(node2), withClient(dino), withSession("s1", "")),
				testEvent(events.SessionBound, 4, onNode(node2), withSession("s1", "phone")),
				testEvent(events.SessionUnbound, 5, withSession("s1", "")),
			},
			want: []ClientView{
				{
					ID: clientKeyID(alice, "gajim-1"), Type: TypeSession, Connected: false,
					FirstSeen: atMinute(1), LastSeen: atMinute(5),
					Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
					UserAgent: uaOf(gajimNew),
				},
				{
					ID: clientKeyID(alice, "dino-1"), Type: TypeSession, Connected: true,
					FirstSeen: atMinute(3), LastSeen: atMinute(4),
					Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
					UserAgent: uaOf(dino),
				},
			},
		},
		{
			name: "latest user agent wins",
			events: []*events.Event{
				// The newer session is delivered first, and the events that
				// carry only the client id must not blank the user agent.
				testEvent(events.AuthPassword, 20, onNode(node2), withClient(gajimNew), withSession("s2", "")),
				testEvent(events.SessionBound, 21, onNode(node2), withClientID("gajim-1"), withSession("s2", "gajim.B")),
				testEvent(events.AuthPassword, 1, withClient(gajimOld), withSession("s1", "")),
				testEvent(events.SessionBound, 2, withClientID("gajim-1"), withSession("s1", "gajim.A")),
				testEvent(events.FastMinted, 30, withClientID("gajim-1"), withFast("sha256:aa", time.Time{})),
			},
			want: []ClientView{{
				ID: clientKeyID(alice, "gajim-1"), Type: TypeSession, Connected: true,
				FirstSeen: atMinute(1), LastSeen: atMinute(21),
				Auth: []string{AuthPassword, AuthFast}, Permission: events.PermissionUnrestricted,
				UserAgent: uaOf(gajimNew),
			}},
		},
		{
			name: "grant without software keeps grant agent",
			events: []*events.Event{
				testEvent(events.GrantIssued, 1, withClientID("conv-1"), withGrant(events.Grant{ID: "g1", Name: "Conversations", URI: "https://conversations.im/"})),
				testEvent(events.GrantIssued, 2, withClientID("conv-1"), withGrant(events.Grant{ID: "g2", Permission: events.PermissionNormal})),
			},
			want: []ClientView{{
				ID: clientKeyID(alice, "conv-1"), Type: TypeAccess, Connected: false,
				FirstSeen: atMinute(1), LastSeen: atMinute(1),
				Auth: []string{AuthGrant}, Permission: events.PermissionUnrestricted,
				UserAgent: UserAgent{Software: "Conversations", URI: "https://conversations.im/"},
			}},
		},
		{
			name: "client.revoked keeps only password access",
			events: []*events.Event{
				testEvent(events.GrantIssued, 1, withClientID("gajim-1"), withGrant(events.Grant{ID: "g1", Permission: events.PermissionNormal})),
				testEvent(events.FastMinted, 2, withClientID("gajim-1"), withFast("sha256:aa", time.Time{})),
				testEvent(events.AuthPassword, 3, withClient(gajimNew), withSession("s1", "")),
				testEvent(events.SessionBound, 4, withSession("s1", "gajim.A")),
				testEvent(events.ClientRevoked, 10, withTarget(clientKeyID(alice, "gajim-1"))),
			},
			want: []ClientView{{
				ID: clientKeyID(alice, "gajim-1"), Type: TypeSession, Connected: false,
				FirstSeen: atMinute(1), LastSeen: atMinute(4),
				Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
				UserAgent: uaOf(gajimNew),
			}},
		},
		{
			name: "session bound after client.revoked is live",
			events: []*events.Event{
				testEvent(events.GrantIssued, 1, withClientID("gajim-1"), withGrant(events.Grant{ID: "g1", Permission: events.PermissionNormal})),
				testEvent(events.FastMinted, 2, withClientID("gajim-1"), withFast("sha256:aa", time.Time{})),
				testEvent(events.AuthPassword, 3, withClient(gajimNew), withSession("s1", "")),
				testEvent(events.SessionBound, 4, withSession("s1", "gajim.A")),
				testEvent(events.ClientRevoked, 10, withTarget(clientKeyID(alice, "gajim-1"))),
				testEvent(events.AuthPassword, 12, withClient(gajimNew), withSession("s2", "")),
				testEvent(events.SessionBound, 13, withSession("s2", "gajim.B")),
			},
			want: []ClientView{{
				ID: clientKeyID(alice, "gajim-1"), Type: TypeSession, Connected: true,
				FirstSeen: atMinute(1), LastSeen: atMinute(13),
				Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
				UserAgent: uaOf(gajimNew),
			}},
		},
		{
			name: "client.revoked drops client without password",
			events: []*events.Event{
				testEvent(events.GrantIssued, 1, withClientID("conv-1"), withGrant(events.Grant{ID: "g1", Permission: events.PermissionNormal})),
				testEvent(events.AuthToken, 2, withClient(conv), withSession("s1", ""), withGrantID("g1")),
				testEvent(events.SessionBound, 3, withSession("s1", "conv.A")),
				testEvent(events.FastMinted, 4, withClientID("conv-1"), withFast("sha256:aa", time.Time{})),
				testEvent(events.ClientRevoked, 10, withTarget(clientKeyID(alice, "conv-1"))),
			},
			want: nil,
		},
		{
			name: "grant-only client listed by grant id",
			events: []*events.Event{
				testEvent(events.GrantIssued, 1, withGrant(events.Grant{
					ID: "g1", Name: "Calendar sync", URI: "https://calendar.example/",
					SoftwareID: "calsync", SoftwareVersion: "3.1", Permission: events.PermissionRestricted,
				})),
				testEvent(events.GrantUsed, 5, withGrantID("g1")),
			},
			want: []ClientView{{
				ID: "grant/g1", Type: TypeAccess, Connected: false,
				FirstSeen: atMinute(1), LastSeen: atMinute(5),
				Auth: []string{AuthGrant}, Permission: events.PermissionRestricted,
				UserAgent: UserAgent{Software: "Calendar sync", Version: "3.1", URI: "https://calendar.example/"},
			}},
		},
		{
			name: "auth.token links grant to client id",
			events: []*events.Event{
				testEvent(events.GrantIssued, 1, withGrant(events.Grant{ID: "g1", Name: "Conversations", Permission: events.PermissionNormal})),
				testEvent(events.AuthToken, 2, withClient(conv), withSession("s1", ""), withGrantID("g1")),
				testEvent(events.SessionBound, 3, withSession("s1", "conv.A")),
			},
			want: []ClientView{{
				ID: clientKeyID(alice, "conv-1"), Type: TypeSession, Connected: true,
				FirstSeen: atMinute(1), LastSeen: atMinute(3),
				Auth: []string{AuthGrant}, Permission: events.PermissionNormal,
				UserAgent: uaOf(conv),
			}},
		},
		{
			name: "auth.token without client id links session",
			events: []*events.Event{
				testEvent(events.GrantIssued, 1, withGrant(events.Grant{ID: "g1", Name: "Tablet app", Permission: events.PermissionRestricted})),
				testEvent(events.AuthToken, 2, withSession("s1", ""), withGrantID("g1")),
				testEvent(events.SessionBound, 3, withSession("s1", "tablet")),
			},
			want: []ClientView{{
				ID: "grant/g1", Type: TypeSession, Connected: true,
				FirstSeen: atMinute(1), LastSeen: atMinute(3),
				Auth: []string{AuthGrant}, Permission: events.PermissionRestricted,
				UserAgent: UserAgent{Software: "Tablet app"},
			}},
		},
		{
			name: "revoked token client ends grant and session",
			events: []*events.Event{
				testEvent(events.GrantIssued, 1, withGrant(events.Grant{ID: "g1", Name: "Tablet app", Permission: events.PermissionRestricted})),
				testEvent(events.AuthToken, 2, withSession("s1", ""), withGrantID("g1")),
				testEvent(events.SessionBound, 3, withSession("s1", "tablet")),
				testEvent(events.ClientRevoked, 10, withTarget("grant/g1")),
			},
			want: nil,
		},
		{
			name: "account.deleted ends every earlier client",
			events: []*events.Event{
				testEvent(events.GrantIssued, 1, withClientID("conv-1"), withGrant(events.Grant{ID: "g1"})),
				testEvent(events.FastMinted, 2, withClientID("conv-1"), withFast("sha256:aa", time.Time{})),
				testEvent(events.AuthPassword, 3, withClient(gajimNew), withSession("s1", "")),
				testEvent(events.SessionBound, 4, withSession("s1", "gajim.A")),
				testEvent(events.AccountDeleted, 10),
				testEvent(events.AuthPassword, 20, withClient(dino), withSession("s2", "")),
				testEvent(events.SessionBound, 21, withSession("s2", "dino.A")),
			},
			want: []ClientView{{
				ID: clientKeyID(alice, "dino-1"), Type: TypeSession, Connected: true,
				FirstSeen: atMinute(20), LastSeen: atMinute(21),
				Auth: []string{AuthPassword}, Permission: events.PermissionUnrestricted,
				UserAgent: uaOf(dino),
			}},
		},
		{
			name: "password access is unrestricted",
			events: []*events.Event{
				testEvent(events.GrantIssued, 1, withClientID("dino-1"), withGrant(events.Grant{ID: "g1", Permission: events.PermissionRestricted})),
				testEvent(events.AuthPassword, 2, withClient(dino), withSession("s1", "")),
			},
			want: []ClientView{{
				ID: clientKeyID(alice, "dino-1"), Type: TypeSession, Connected: false,
				FirstSeen: atMinute(1), LastSeen: atMinute(2),
				Auth: []string{AuthPassword, AuthGrant}, Permission: events.PermissionUnrestricted,
				UserAgent: uaOf(dino),
			}},
		},
		{
			name: "highest permission of live grants",
			events: []*events.Event{
				testEvent(events.GrantIssued, 1, withClientID("conv-1"), withGrant(events.Grant{ID: "g1", Permission: events.PermissionRestricted})),
				testEvent(events.GrantIssued, 2, withClientID("conv-1"), withGrant(events.Grant{ID: "g2", Permission: events.PermissionNormal})),
				testEvent(events.GrantIssued, 3, withClientID("conv-1"), withGrant(events.Grant{ID: "g3", Permission: events.PermissionUnrestricted})),
				testEvent(events.GrantRevoked, 4, withGrantID("g3")),
			},
			want: []ClientView{{
				ID: clientKeyID(alice, "conv-1"), Type: TypeAccess, Connected: false,
				FirstSeen: atMinute(1), LastSeen: atMinute(1),
				Auth: []string{AuthGrant}, Permission: events.PermissionNormal,
			}},
		},
	}
}

func TestFoldRules(t *testing.T) {
	for _, tc := range foldCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := foldEvents(t, tc.events)
			checkViews(t, s.Clients(alice, tc.options()), tc.want)
		})
	}
}

// TestFoldDuplicates applies every rule's history with duplicates: each event
// twice in a row, the whole history again after it, and the whole history
// again in reverse, so that old events return after later ones.
func TestFoldDuplicates(t *testing.T) {
	for _, tc := range foldCases() {
		variants := map[string][]*events.Event{
			"each twice":     nil,
			"replayed":       slices.Concat(tc.events, tc.events),
			"replayed back":  slices.Concat(tc.events, reversed(tc.events)),
			"replayed twice": slices.Concat(tc.events, tc.events, tc.events),
		}
		for _, e := range tc.events {
			variants["each twice"] = append(variants["each twice"], e, e)
		}
		for variant, evs := range variants {
			t.Run(tc.name+"/"+variant, func(t *testing.T) {
				once := foldEvents(t, tc.events)
				s := foldEvents(t, evs)
				checkViews(t, s.Clients(alice, tc.options()), tc.want)
				if got, want := toJSON(s), toJSON(once); got != want {
					t.Errorf("state after duplicates differs from state after one pass\ngot:  %s\nwant: %s", got, want)
				}
			})
		}
	}
}

func reversed(evs []*events.Event) []*events.Event {
	out := slices.Clone(evs)
	slices.Reverse(out)
	return out
}

func TestFoldUnknownType(t *testing.T) {
	s := foldEvents(t, []*events.Event{
		testEvent(events.AuthPassword, 1, withClient(gajimNew), withSession("s1", "")),
		testEvent(events.SessionBound, 2, withSession("s1", "gajim.A")),
	})
	before := toJSON(s)
	viewBefore := s.Clients(alice, defaultView)

	unknown := testEvent(events.Type("session.teleported"), 3, onNode("xmpp-9"), forUser("carol@example.test"),
		withClient(dino), withSession("s9", "dino.A"))
	err := s.Apply(unknown)
	if !errors.Is(err, events.ErrUnknownType) {
		t.Fatalf("Apply(unknown type) = %v, want an error wrapping %v", err, events.ErrUnknownType)
	}
	if !strings.Contains(err.Error(), "session.teleported") {
		t.Errorf("error %q does not name the type", err)
	}
	if after := toJSON(s); after != before {
		t.Errorf("unknown type changed the state\nbefore: %s\nafter:  %s", before, after)
	}
	checkViews(t, s.Clients(alice, defaultView), viewBefore)
}

func TestFoldOtherAccounts(t *testing.T) {
	s := foldEvents(t, []*events.Event{
		testEvent(events.AuthPassword, 1, withClient(gajimNew), withSession("s1", "")),
		testEvent(events.SessionBound, 2, withSession("s1", "gajim.A")),
		testEvent(events.AuthPassword, 3, forUser(bob), withClient(gajimNew), withSession("s2", "")),
	})

	aliceView := s.Clients(alice, defaultView)
	bobView := s.Clients(bob, defaultView)
	if len(aliceView) != 1 || len(bobView) != 1 {
		t.Fatalf("alice has %d clients and bob %d, want 1 each", len(aliceView), len(bobView))
	}
	if aliceView[0].ID == bobView[0].ID {
		t.Errorf("one client id %q has the same listing id on two accounts", aliceView[0].ID)
	}
	if !aliceView[0].Connected {
		t.Errorf("alice's client is not connected")
	}
	if bobView[0].Connected {
		t.Errorf("bob's client is connected by alice's session")
	}

	unknown := s.Clients("carol@example.test", defaultView)
	if unknown == nil || len(unknown) != 0 {
		t.Errorf("Clients(unknown user) = %#v, want an empty non-nil list", unknown)
	}
}

func TestFoldListingID(t *testing.T) {
	id := ListingID(alice, "c:gajim-1")
	if !strings.HasPrefix(id, "client/") {
		t.Errorf("ListingID(client key) = %q, want prefix client/", id)
	}
	if strings.Contains(id, "gajim") {
		t.Errorf("ListingID(client key) = %q contains the client id", id)
	}
	if other := ListingID(bob, "c:gajim-1"); other == id {
		t.Errorf("ListingID gives %q for the same client id on two accounts", id)
	}
	if legacy := ListingID(alice, "r:gajim-1"); legacy == id {
		t.Errorf("ListingID gives %q for a client id and a resource of the same text", id)
	}
	if again := ListingID(alice, "c:gajim-1"); again != id {
		t.Errorf("ListingID is not stable: %q then %q", id, again)
	}
	if got := ListingID(alice, "g:g1"); got != "grant/g1" {
		t.Errorf("ListingID(grant key) = %q, want grant/g1", got)
	}
}

// resolveHistory gives alice two Gajim clients, Conversations, a legacy
// client, a grant-only client, a client with no access left and a grant
// whose token logged in a session without a client id. It gives bob a Gajim
// client with the same client id as alice's.
func resolveHistory() []*events.Event {
	return []*events.Event{
		testEvent(events.AuthPassword, 1, withClient(gajimNew), withSession("s1", "")),
		testEvent(events.SessionBound, 2, withSession("s1", "gajim.A")),
		testEvent(events.AuthPassword, 3, onNode(node2), withClient(gajimNew), withSession("s2", "")),
		testEvent(events.SessionBound, 4, onNode(node2), withSession("s2", "gajim.B")),
		testEvent(events.AuthPassword, 5, withClient(gajimNew), withSession("s3", "")),
		testEvent(events.SessionBound, 6, withSession("s3", "gajim.C")),
		testEvent(events.SessionUnbound, 7, withSession("s3", "")),
		testEvent(events.GrantIssued, 8, withClientID("gajim-1"), withGrant(events.Grant{ID: "g1"})),
		testEvent(events.GrantIssued, 9, withClientID("gajim-1"), withGrant(events.Grant{ID: "g2"})),
		testEvent(events.GrantRevoked, 10, withGrantID("g2")),
		testEvent(events.FastMinted, 11, withClientID("gajim-1"), withFast("sha256:f1", time.Time{})),
		testEvent(events.FastMinted, 12, withClientID("gajim-1"), withFast("sha256:f2", time.Time{})),
		testEvent(events.FastRevoked, 13, withFast("sha256:f2", time.Time{})),

		testEvent(events.AuthPassword, 14, onNode(node2), withClient(gajimTwo), withSession("s4", "")),
		testEvent(events.SessionBound, 15, onNode(node2), withSession("s4", "gajim.D")),
		testEvent(events.AuthPassword, 16, withClient(conv), withSession("s5", "")),
		testEvent(events.SessionBound, 17, withSession("s5", "conv.A")),
		testEvent(events.AuthPassword, 18, withSession("s6", "")),
		testEvent(events.SessionBound, 19, withSession("s6", "laptop")),
		testEvent(events.GrantIssued, 20, withGrant(events.Grant{ID: "g9", Name: "Calendar sync", Permission: events.PermissionRestricted})),
		testEvent(events.GrantIssued, 21, withClientID("dino-1"), withGrant(events.Grant{ID: "g5"})),
		testEvent(events.GrantRevoked, 22, withGrantID("g5")),

		testEvent(events.GrantIssued, 25, withGrant(events.Grant{ID: "g7", Name: "Tablet app"})),
		testEvent(events.AuthToken, 26, onNode(node2), withSession("s8", ""), withGrantID("g7")),
		testEvent(events.SessionBound, 27, onNode(node2), withSession("s8", "tablet")),

		testEvent(events.AuthPassword, 23, forUser(bob), withClient(gajimNew), withSession("s7", "")),
		testEvent(events.SessionBound, 24, forUser(bob), withSession("s7", "gajim.A")),
	}
}

func TestResolveSelectors(t *testing.T) {
	s := foldEvents(t, resolveHistory())
	gajim1 := clientKeyID(alice, "gajim-1")
	gajim2 := clientKeyID(alice, "gajim-2")
	tests := []struct {
		name     string
		selector string
		want     []string
	}{
		{"listing id", gajim1, []string{gajim1}},
		{"legacy listing id", legacyKeyID(alice, "laptop"), []string{legacyKeyID(alice, "laptop")}},
		{"grant listing id", "grant/g9", []string{"grant/g9"}},
		{"software name", "software/Gajim", sorted(gajim1, gajim2)},
		{"software name any case", "software/gajim", sorted(gajim1, gajim2)},
		{"software name and version", "software/Gajim/1.9.5", []string{gajim1}},
		{"software version not found", "software/Gajim/2.0", nil},
		{"other software", "software/Conversations", []string{clientKeyID(alice, "conv-1")}},
		{"id of another account", clientKeyID(bob, "gajim-1"), nil},
		{"client without access", clientKeyID(alice, "dino-1"), nil},
		{"unknown id", "client/aaaaaaaaaaaaaaaa", nil},
		{"unknown grant", "grant/g404", nil},
		{"empty id", "", nil},
		{"software prefix alone", "software/", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, target := range s.Resolve(alice, tc.selector, defaultView) {
				got = append(got, target.View.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Resolve(%q) selects %q, want %q", tc.selector, got, tc.want)
			}
		})
	}

	if got := s.Resolve("carol@example.test", "software/Gajim", defaultView); got != nil {
		t.Errorf("Resolve(unknown user) = %+v, want nil", got)
	}
	if got := s.Resolve(bob, gajim1, defaultView); got != nil {
		t.Errorf("Resolve(bob, alice's listing id) = %+v, want nil", got)
	}
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

func TestResolveTarget(t *testing.T) {
	s := foldEvents(t, resolveHistory())
	listing := make(map[string]ClientView)
	for _, v := range s.Clients(alice, defaultView) {
		listing[v.ID] = v
	}
	tests := []struct {
		name      string
		selector  string
		clientID  string
		resources []string
		sessions  []events.SessionRef
		grants    []string
		fast      []string
	}{
		{
			name:     "client with sessions grants and tokens",
			selector: clientKeyID(alice, "gajim-1"),
			clientID: "gajim-1",
			sessions: []events.SessionRef{{Node: node1, ID: "s1"}, {Node: node2, ID: "s2"}},
			grants:   []string{"g1"},
			fast:     []string{"sha256:f1"},
		},
		{
			name:      "legacy client",
			selector:  legacyKeyID(alice, "laptop"),
			resources: []string{"laptop"},
			sessions:  []events.SessionRef{{Node: node1, ID: "s6"}},
		},
		{
			name:     "grant-only client",
			selector: "grant/g9",
			grants:   []string{"g9"},
		},
		{
			name:     "grant with token session",
			selector: "grant/g7",
			sessions: []events.SessionRef{{Node: node2, ID: "s8"}},
			grants:   []string{"g7"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			targets := s.Resolve(alice, tc.selector, defaultView)
			if len(targets) != 1 {
				t.Fatalf("Resolve(%q) returned %d targets, want 1", tc.selector, len(targets))
			}
			got := targets[0]
			checkViews(t, []ClientView{got.View}, []ClientView{listing[tc.selector]})
			if got.ClientID != tc.clientID {
				t.Errorf("client id = %q, want %q", got.ClientID, tc.clientID)
			}
			if !slices.Equal(got.Resources, tc.resources) {
				t.Errorf("resources = %q, want %q", got.Resources, tc.resources)
			}
			if !slices.Equal(got.Sessions, tc.sessions) {
				t.Errorf("sessions = %+v, want %+v", got.Sessions, tc.sessions)
			}
			if !slices.Equal(got.Grants, tc.grants) {
				t.Errorf("grants = %q, want %q", got.Grants, tc.grants)
			}
			if !slices.Equal(got.Fast, tc.fast) {
				t.Errorf("FAST fingerprints = %q, want %q", got.Fast, tc.fast)
			}
		})
	}
}

package query_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/query"
)

func TestHistoryExactlyTheUsersEvents(t *testing.T) {
	f := newAuditFixture(t, auditSetup{beforeRunner: func(t *testing.T, js jetstream.JetStream) {
		simulateInto(t, js, 6, 1200, 11)
	}})
	msgs := readStream(t, f.js)

	for _, user := range simulatedUsers(6)[:3] {
		var want []query.HistoryEntry
		for _, m := range msgs {
			if m.event != nil && m.event.User == user {
				want = append(want, query.HistoryEntry{Seq: m.seq, Event: *m.event})
			}
		}
		slices.SortStableFunc(want, func(a, b query.HistoryEntry) int { return a.Time.Compare(b.Time) })
		if len(want) == 0 {
			t.Fatalf("the simulation stored no event of %s", user)
		}

		got, err := f.client.History(context.Background(), query.HistoryRequest{User: user, Limit: 37})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Entries) != len(want) {
			t.Fatalf("%s: history has %d events, want %d", user, len(got.Entries), len(want))
		}
		for i := range want {
			g, w := got.Entries[i], want[i]
			if g.Seq != w.Seq || g.ID != w.ID || g.User != user || !g.Time.Equal(w.Time) {
				t.Fatalf("%s: entry %d is %d %s %s %s, want %d %s %s", user, i, g.Seq, g.ID, g.User, g.Time, w.Seq, w.ID, w.Time)
			}
		}
	}
}

func TestHistorySinceUntil(t *testing.T) {
	f := newAuditFixture(t, auditSetup{beforeRunner: func(t *testing.T, js jetstream.JetStream) {
		simulateInto(t, js, 4, 600, 12)
	}})
	user := simulatedUsers(4)[0]
	all, err := f.client.History(context.Background(), query.HistoryRequest{User: user})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Entries) < 10 {
		t.Fatalf("%s has only %d events", user, len(all.Entries))
	}
	since, until := all.Entries[3].Time, all.Entries[len(all.Entries)-4].Time
	var want []string
	for _, e := range all.Entries {
		if !e.Time.Before(since) && !e.Time.After(until) {
			want = append(want, e.ID)
		}
	}
	got, err := f.client.History(context.Background(), query.HistoryRequest{User: user, Since: since, Until: until, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range got.Entries {
		ids = append(ids, e.ID)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("history from %s to %s has %d events, want %d:\n got %v\nwant %v", since, until, len(ids), len(want), ids, want)
	}
}

func TestHistoryRejectsBadRequests(t *testing.T) {
	f := newAuditFixture(t, auditSetup{})
	now := time.Now()
	cases := []struct {
		name string
		req  query.HistoryRequest
	}{
		{"full JID", query.HistoryRequest{User: "alice@example.test/phone"}},
		{"until before since", query.HistoryRequest{User: "alice@example.test", Since: now, Until: now.Add(-time.Hour)}},
		{"limit too large", query.HistoryRequest{User: "alice@example.test", Limit: query.MaxHistoryLimit + 1}},
		{"negative limit", query.HistoryRequest{User: "alice@example.test", Limit: -1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.client.History(context.Background(), tc.req)
			if !errors.Is(err, query.ErrBadRequest) {
				t.Fatalf("History = %v, want ErrBadRequest", err)
			}
		})
	}
}

func TestHistorySkipsMalformedMessages(t *testing.T) {
	f := newAuditFixture(t, auditSetup{})
	user := "alice@example.test"
	e := ev(events.AuthPassword, user, 0)
	e.Session = &events.Session{ID: "s1"}
	f.publish(t, e)
	d, u := events.UserKeys(user)
	if _, err := f.js.Publish(context.Background(), events.UserSubjectPrefix+"."+d+"."+u+".auth.password", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	got, err := f.client.History(context.Background(), query.HistoryRequest{User: user})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Entries) != 1 || got.Entries[0].ID != e.ID {
		t.Errorf("history = %+v, want only %s", got.Entries, e.ID)
	}
	if got.Skipped != 1 {
		t.Errorf("Skipped = %d, want 1", got.Skipped)
	}
}

func TestHistoryIPMaxAge(t *testing.T) {
	cases := []struct {
		name       string
		maxAge     time.Duration
		wantOld    bool
		wantRecent bool
	}{
		{"zero hides every address", 0, false, false},
		{"one day shows recent addresses", 24 * time.Hour, false, true},
		{"a year shows both", 365 * 24 * time.Hour, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newAuditFixture(t, auditSetup{ipMaxAge: tc.maxAge})
			old := ev(events.AuthPassword, "alice@example.test", 0)
			old.Time = f.now.Add(-48 * time.Hour)
			old.Session, old.IP = &events.Session{ID: "s1"}, "192.0.2.1"
			recent := ev(events.AuthPassword, "alice@example.test", 0)
			recent.Time = f.now.Add(-time.Hour)
			recent.Session, recent.IP = &events.Session{ID: "s2"}, "192.0.2.2"
			if _, err := f.pub.Publish(context.Background(), old); err != nil {
				t.Fatal(err)
			}
			if _, err := f.pub.Publish(context.Background(), recent); err != nil {
				t.Fatal(err)
			}
			got, err := f.client.History(context.Background(), query.HistoryRequest{User: "alice@example.test"})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Entries) != 2 {
				t.Fatalf("history has %d events, want 2", len(got.Entries))
			}
			if visible := got.Entries[0].IP != ""; visible != tc.wantOld {
				t.Errorf("IP of the 48-hour-old event visible = %v (%q), want %v", visible, got.Entries[0].IP, tc.wantOld)
			}
			if visible := got.Entries[1].IP != ""; visible != tc.wantRecent {
				t.Errorf("IP of the one-hour-old event visible = %v (%q), want %v", visible, got.Entries[1].IP, tc.wantRecent)
			}
		})
	}
}

package query_test

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

// liveViews lists every simulated account through the query service.
func liveViews(t *testing.T, f *auditFixture, users []string) map[string][]projector.ClientView {
	t.Helper()
	out := make(map[string][]projector.ClientView)
	for _, user := range users {
		reply, err := f.client.List(context.Background(), query.ListRequest{User: user})
		if err != nil {
			t.Fatal(err)
		}
		out[user] = reply.Clients
	}
	return out
}

// matching returns, per account, the sorted listing ids of the clients of
// software, and of version when set.
func matching(views map[string][]projector.ClientView, software, version string) map[string][]string {
	out := make(map[string][]string)
	for user, clients := range views {
		for _, c := range clients {
			if strings.EqualFold(c.UserAgent.Software, software) && (version == "" || c.UserAgent.Version == version) {
				out[user] = append(out[user], c.ID)
			}
		}
		slices.Sort(out[user])
	}
	return out
}

func lastSeq(t *testing.T, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

func revokedOf(accounts []query.AccountRevoke) map[string][]string {
	out := make(map[string][]string)
	for _, a := range accounts {
		ids := slices.Clone(a.Clients)
		slices.Sort(ids)
		out[a.User] = ids
	}
	return out
}

func TestAccountsWithSoftware(t *testing.T) {
	f := newAuditFixture(t, auditSetup{beforeRunner: func(t *testing.T, js jetstream.JetStream) {
		simulateInto(t, js, 10, 1500, 31)
	}})
	views := liveViews(t, f, simulatedUsers(10))
	for _, software := range []string{"Conversations", "conversations", "Gajim", "Pidgin"} {
		want := matching(views, software, "")
		got, err := f.client.Accounts(context.Background(), query.AccountsRequest{Software: software, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		gotIDs := make(map[string][]string)
		for _, m := range got {
			gotIDs[m.User] = ids(m.Clients)
			slices.Sort(gotIDs[m.User])
		}
		if !reflect.DeepEqual(gotIDs, want) {
			t.Errorf("accounts with %s:\n got %v\nwant %v", software, gotIDs, want)
		}
	}
	if len(matching(views, "Conversations", "")) < 2 {
		t.Error("fewer than two simulated accounts use Conversations, so paging is not covered")
	}
}

func TestAccountsBadRequests(t *testing.T) {
	f := newAuditFixture(t, auditSetup{})
	cases := []struct {
		name string
		req  query.AccountsRequest
	}{
		{"no software", query.AccountsRequest{}},
		{"slash in name", query.AccountsRequest{Software: "Gajim/1.9"}},
		{"limit too large", query.AccountsRequest{Software: "Gajim", Limit: query.MaxAccountsLimit + 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.client.Accounts(context.Background(), tc.req); !errors.Is(err, query.ErrBadRequest) {
				t.Fatalf("Accounts = %v, want ErrBadRequest", err)
			}
		})
	}
}

func TestRevokeSoftwareAcrossAccounts(t *testing.T) {
	f := newAuditFixture(t, auditSetup{beforeRunner: func(t *testing.T, js jetstream.JetStream) {
		simulateInto(t, js, 10, 1500, 32)
	}})
	users := simulatedUsers(10)
	const software = "Conversations"
	before := liveViews(t, f, users)
	want := matching(before, software, "")
	if len(want) < 2 {
		t.Fatalf("only %d accounts use %s; the test needs two or more", len(want), software)
	}
	eventsBefore, commandsBefore := lastSeq(t, f.js, events.StreamName), lastSeq(t, f.js, events.CommandStreamName)

	// The dry run reports the matching clients and changes nothing.
	dry, err := f.client.RevokeSoftware(context.Background(), query.RevokeSoftwareRequest{Software: software, DryRun: true, Limit: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := revokedOf(dry); !reflect.DeepEqual(got, want) {
		t.Errorf("dry run:\n got %v\nwant %v", got, want)
	}
	if seq := lastSeq(t, f.js, events.StreamName); seq != eventsBefore {
		t.Errorf("dry run stored events: last sequence %d, was %d", seq, eventsBefore)
	}
	if seq := lastSeq(t, f.js, events.CommandStreamName); seq != commandsBefore {
		t.Errorf("dry run stored commands: last sequence %d, was %d", seq, commandsBefore)
	}
	if after := liveViews(t, f, users); !reflect.DeepEqual(after, before) {
		t.Error("views changed after the dry run")
	}

	// The real run revokes exactly the matching clients.
	done, err := f.client.RevokeSoftware(context.Background(), query.RevokeSoftwareRequest{Software: software, Actor: "ops", Limit: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := revokedOf(done); !reflect.DeepEqual(got, want) {
		t.Errorf("revoke reply:\n got %v\nwant %v", got, want)
	}
	stored := make(map[string][]string)
	for _, m := range readStream(t, f.js) {
		if m.seq > eventsBefore && m.event != nil && m.event.Type == events.ClientRevoked {
			stored[m.event.User] = append(stored[m.event.User], m.event.Target)
			if m.event.Actor != "ops" {
				t.Errorf("client.revoked of %s has actor %q, want ops", m.event.Target, m.event.Actor)
			}
		}
	}
	for user := range stored {
		slices.Sort(stored[user])
	}
	if !reflect.DeepEqual(stored, want) {
		t.Errorf("stored client.revoked events:\n got %v\nwant %v", stored, want)
	}
	commands := lastSeq(t, f.js, events.CommandStreamName) - commandsBefore
	if total := countIDs(want); commands != uint64(total) {
		t.Errorf("%d revoke commands stored, want %d", commands, total)
	}
	checkRevokedViews(t, before, liveViews(t, f, users), want)
}

// checkRevokedViews checks that every revoked client lost everything but
// password access, and that every other client kept its listing.
func checkRevokedViews(t *testing.T, before, after map[string][]projector.ClientView, revoked map[string][]string) {
	t.Helper()
	for user, clients := range before {
		now := make(map[string]projector.ClientView)
		for _, c := range after[user] {
			now[c.ID] = c
		}
		for _, c := range clients {
			got, listed := now[c.ID]
			if !slices.Contains(revoked[user], c.ID) {
				if !reflect.DeepEqual(got, c) {
					t.Errorf("%s: %s was not to be revoked but changed:\n got %+v\nwant %+v", user, c.ID, got, c)
				}
				continue
			}
			if listed && (got.Connected || !slices.Equal(got.Auth, []string{projector.AuthPassword})) {
				t.Errorf("%s: revoked %s is still listed with %+v; want it gone or with password access only", user, c.ID, got)
			}
		}
	}
}

func countIDs(m map[string][]string) int {
	n := 0
	for ids := range maps.Values(m) {
		n += len(ids)
	}
	return n
}

func TestRevokeOthers(t *testing.T) {
	f := newAuditFixture(t, auditSetup{})
	aliceAndBobOn(t, f)
	before := liveViews(t, f, []string{"alice@example.test", "bob@example.test"})
	var keep string
	var want []string
	for _, c := range before["alice@example.test"] {
		if c.UserAgent.Software == "Conversations" {
			keep = c.ID
		} else {
			want = append(want, c.ID)
		}
	}
	slices.Sort(want)

	t.Run("unknown keep revokes nothing", func(t *testing.T) {
		seq := lastSeq(t, f.js, events.StreamName)
		_, err := f.client.RevokeOthers(context.Background(), query.RevokeOthersRequest{User: "alice@example.test", Keep: "client/unknown"})
		if !errors.Is(err, query.ErrNotFound) {
			t.Fatalf("RevokeOthers = %v, want ErrNotFound", err)
		}
		if got := lastSeq(t, f.js, events.StreamName); got != seq {
			t.Errorf("stream grew from %d to %d", seq, got)
		}
	})
	t.Run("keeps one", func(t *testing.T) {
		reply, err := f.client.RevokeOthers(context.Background(), query.RevokeOthersRequest{User: "alice@example.test", Keep: keep})
		if err != nil {
			t.Fatal(err)
		}
		got := slices.Clone(reply.Revoked)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("revoked %v, want %v", got, want)
		}
		if !reply.PasswordResetRequired {
			t.Error("PasswordResetRequired = false, but a revoked client logged in with the password")
		}
		checkRevokedViews(t, before, liveViews(t, f, []string{"alice@example.test", "bob@example.test"}), map[string][]string{"alice@example.test": want})
	})
}

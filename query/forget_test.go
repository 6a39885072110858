package query_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/natstest"
	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

// publishMalformed stores a message that is not an event on a subject of
// user, which the projector copies to the dead-letter stream.
func publishMalformed(t *testing.T, js jetstream.JetStream, user string) {
	t.Helper()
	subject := strings.TrimSuffix(events.UserFilter(user), ">") + "auth.password"
	if _, err := js.Publish(context.Background(), subject, []byte(`{"broken":`)); err != nil {
		t.Fatal(err)
	}
}

// deadLetterSubjects returns the Clientele-Subject header of every dead
// letter.
func deadLetterSubjects(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	ctx := context.Background()
	stream, err := js.Stream(ctx, events.DeadLetterStreamConfig(events.StreamOptions{}).Name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		out = append(out, msg.Header.Get("Clientele-Subject"))
	}
	return out
}

// storedSnapshot returns the state in the snapshot bucket of the
// projector.
func storedSnapshot(t *testing.T, js jetstream.JetStream) *projector.State {
	t.Helper()
	ctx := context.Background()
	store, name := snapshotObject(t, js)
	data, err := store.GetBytes(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	state, _, err := projector.DecodeSnapshot(data)
	if err != nil {
		t.Fatal(err)
	}
	return state
}

// defaultSnapshotBucket is the snapshot bucket of a projector.Config
// without SnapshotBucket.
const defaultSnapshotBucket = "clientele-snapshots"

// snapshotObject returns the default snapshot bucket and the name of its
// only object: the projector's snapshot.
func snapshotObject(t *testing.T, js jetstream.JetStream) (jetstream.ObjectStore, string) {
	t.Helper()
	ctx := context.Background()
	store, err := js.ObjectStore(ctx, defaultSnapshotBucket)
	if err != nil {
		t.Fatal(err)
	}
	objects, err := store.List(ctx)
	if err != nil || len(objects) != 1 {
		t.Fatalf("snapshot objects %v (%v), want exactly one", objects, err)
	}
	return store, objects[0].Name
}

func TestForgetErasesTheAccount(t *testing.T) {
	f := newAuditFixture(t, auditSetup{beforeRunner: func(t *testing.T, js jetstream.JetStream) {
		simulateInto(t, js, 6, 1200, 41)
	}})
	ctx := context.Background()
	users := simulatedUsers(6)
	victim, others := users[1], append([]string{users[0]}, users[2:]...)
	publishMalformed(t, f.js, victim)
	publishMalformed(t, f.js, others[0])
	f.waitCaughtUp(t)

	// A replica that must drop the account from its view as well.
	replica := projector.NewRunner(projector.Config{JS: f.js, SnapshotInterval: -1, SnapshotBucket: "replica-snapshots"})
	rctx, stop := context.WithCancel(ctx)
	replicaDone := make(chan error, 1)
	go func() { replicaDone <- replica.Run(rctx) }()
	t.Cleanup(func() { stop(); <-replicaDone })

	victimClients, err := f.client.List(ctx, query.ListRequest{User: victim})
	if err != nil || len(victimClients.Clients) == 0 {
		t.Fatalf("%s has no clients to forget (%v)", victim, err)
	}
	if _, err := f.client.Revoke(ctx, query.RevokeRequest{User: victim, Selector: victimClients.Clients[0].ID}); err != nil {
		t.Fatal(err)
	}
	if err := f.runner.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := storedSnapshot(t, f.js).Users[victim]; !ok {
		t.Fatalf("the snapshot before forget lacks %s", victim)
	}
	historyBefore := histories(t, f, others)
	viewsBefore, err := f.client.Views(ctx, query.ViewsRequest{Users: others})
	if err != nil {
		t.Fatal(err)
	}
	victimEvents := 0
	for _, m := range readStream(t, f.js) {
		if strings.HasPrefix(m.subject, strings.TrimSuffix(events.UserFilter(victim), ">")) {
			victimEvents++
		}
	}

	reply, err := f.client.Forget(ctx, query.ForgetRequest{User: victim, Actor: "dpo"})
	if err != nil {
		t.Fatal(err)
	}
	checkForgetReply(t, reply, victim, victimEvents)
	checkNothingOf(t, f, victim)
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := replica.WaitApplied(waitCtx, reply.TombstoneSeq); err != nil {
		t.Fatal(err)
	}
	if clients, _ := replica.Clients(victim); len(clients) != 0 || slicesContains(replica.Accounts(), victim) {
		t.Errorf("the replica still has %s: %+v", victim, clients)
	}

	// Every other account is untouched.
	if got := histories(t, f, others); !reflect.DeepEqual(got, historyBefore) {
		t.Error("the history of another account changed")
	}
	viewsAfter, err := f.client.Views(ctx, query.ViewsRequest{Users: others})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(viewsAfter.Accounts, viewsBefore.Accounts) {
		t.Error("the view of another account changed")
	}
	if dl := deadLetterSubjects(t, f.js); len(dl) != 1 || !strings.HasPrefix(dl[0], strings.TrimSuffix(events.UserFilter(others[0]), ">")) {
		t.Errorf("dead letters after forget: %v, want only the one of %s", dl, others[0])
	}
}

func checkForgetReply(t *testing.T, reply *query.ForgetReply, victim string, victimEvents int) {
	t.Helper()
	if reply.UserKey != events.UserKey(victim) {
		t.Errorf("reply user key %q, want %q", reply.UserKey, events.UserKey(victim))
	}
	if reply.Events != uint64(victimEvents) {
		t.Errorf("reply counts %d events, want %d", reply.Events, victimEvents)
	}
	if reply.Commands != 1 || reply.DeadLetters != 1 || !reply.SnapshotStored {
		t.Errorf("reply = %+v, want 1 command, 1 dead letter and a snapshot", reply)
	}
}

// checkNothingOf checks that neither history, the live and past views, the
// snapshot, a full replay, the stored messages nor the command stream hold
// anything of user.
func checkNothingOf(t *testing.T, f *auditFixture, user string) {
	t.Helper()
	ctx := context.Background()
	if h, err := f.client.History(ctx, query.HistoryRequest{User: user}); err != nil || len(h.Entries) != 0 || h.Skipped != 0 {
		t.Errorf("history after forget: %d entries, %d skipped (%v)", len(h.Entries), h.Skipped, err)
	}
	if l, err := f.client.List(ctx, query.ListRequest{User: user}); err != nil || len(l.Clients) != 0 {
		t.Errorf("clients after forget: %+v (%v)", l, err)
	}
	if at, err := f.client.ClientsAt(ctx, query.ClientsAtRequest{User: user, At: time.Now()}); err != nil || len(at.Clients) != 0 {
		t.Errorf("clients --at now after forget: %+v (%v)", at, err)
	}

	if _, ok := storedSnapshot(t, f.js).Users[user]; ok {
		t.Error("the stored snapshot still holds the account")
	}
	msgs := readStream(t, f.js)
	if _, ok := replayAll(msgs).Users[user]; ok {
		t.Error("a full replay still builds the account")
	}

	tombstones := 0
	for _, m := range msgs {
		if bytes.Contains(m.data, []byte(user)) {
			t.Errorf("stored message %d on %s still contains the JID", m.seq, m.subject)
		}
		if m.event != nil && m.event.Type == events.AccountForgotten && m.event.UserKey == events.UserKey(user) {
			tombstones++
		}
	}
	if tombstones != 1 {
		t.Errorf("%d tombstones of the account, want 1", tombstones)
	}

	commands, err := f.js.Stream(ctx, events.CommandStreamName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := commands.GetLastMsgForSubject(ctx, events.CommandSubject(user)); err == nil {
		t.Error("a revoke command of the account is still stored")
	}
}

func histories(t *testing.T, f *auditFixture, users []string) map[string][]query.HistoryEntry {
	t.Helper()
	out := make(map[string][]query.HistoryEntry)
	for _, u := range users {
		h, err := f.client.History(context.Background(), query.HistoryRequest{User: u})
		if err != nil {
			t.Fatal(err)
		}
		out[u] = h.Entries
	}
	return out
}

func slicesContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestForgetThenNewEvents checks that events stored after the tombstone
// start a new history, in the live view and in a replay alike.
func TestForgetThenNewEvents(t *testing.T) {
	f := newAuditFixture(t, auditSetup{})
	aliceAndBobOn(t, f)
	if _, err := f.client.Forget(context.Background(), query.ForgetRequest{User: "alice@example.test"}); err != nil {
		t.Fatal(err)
	}
	again := ev(events.AuthPassword, "alice@example.test", 10*time.Second)
	again.Session, again.Client = &events.Session{ID: "s7"}, &events.Client{ID: "dino-1", Software: "Dino"}
	f.publish(t, again)

	h, err := f.client.History(context.Background(), query.HistoryRequest{User: "alice@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Entries) != 1 || h.Entries[0].ID != again.ID {
		t.Errorf("history after forget and a new login: %+v, want only %s", h.Entries, again.ID)
	}
	live, _ := f.runner.Clients("alice@example.test")
	replayed := replayAll(readStream(t, f.js)).Clients("alice@example.test", projector.ViewOptions{Now: f.now, HeartbeatTimeout: auditTimeout})
	if len(live) != 1 || live[0].UserAgent.Software != "Dino" || !reflect.DeepEqual(live, replayed) {
		t.Errorf("live view %+v, replay %+v; want both with only Dino", live, replayed)
	}
}

// TestForgetOverwrite checks that with Overwrite no file of the NATS store
// holds the JID of the forgotten account afterwards, while a purge alone
// leaves it on disk.
func TestForgetOverwrite(t *testing.T) {
	cases := []struct {
		name      string
		overwrite bool
		onDisk    bool
	}{
		{"purge only", false, true},
		{"overwrite", true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := natstest.Start(t)
			nc, js := srv.Connect(t)
			f := startAudit(t, nc, js, auditSetup{})
			aliceAndBobOn(t, f)
			var uses []*events.Event
			for i := range 50 {
				e := ev(events.GrantUsed, "alice@example.test", time.Duration(10+i)*time.Second)
				e.Grant = &events.Grant{ID: "g1"}
				uses = append(uses, e)
			}
			f.publish(t, uses...)
			if _, err := f.client.Revoke(context.Background(), query.RevokeRequest{User: "alice@example.test", Selector: "software/Gajim"}); err != nil {
				t.Fatal(err)
			}
			reply, err := f.client.Forget(context.Background(), query.ForgetRequest{User: "alice@example.test", Overwrite: tc.overwrite})
			if err != nil {
				t.Fatal(err)
			}
			if tc.overwrite && reply.Overwritten != int(reply.Events) {
				t.Errorf("overwrote %d of %d events", reply.Overwritten, reply.Events)
			}
			if files := filesContaining(t, srv.StoreDir, "alice@example.test"); (len(files) > 0) != tc.onDisk {
				t.Errorf("files holding the JID after forget: %v; want some: %v", files, tc.onDisk)
			}
			if files := filesContaining(t, srv.StoreDir, "bob@example.test"); len(files) == 0 {
				t.Error("the JID of bob, who was not forgotten, is in no file, so the search finds nothing")
			}
		})
	}
}

// filesContaining returns the files under dir that contain s.
func filesContaining(t *testing.T, dir, s string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(s)) {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

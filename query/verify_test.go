package query_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

func TestVerifyHealthy(t *testing.T) {
	f := newAuditFixture(t, auditSetup{beforeRunner: func(t *testing.T, js jetstream.JetStream) {
		simulateInto(t, js, 7, 1200, 51)
	}})
	var reports []query.VerifyProgress
	report, err := query.Verify(context.Background(), f.js, f.client, query.VerifyOptions{
		PageSize: 3, Progress: func(p query.VerifyProgress) { reports = append(reports, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Differences) != 0 {
		t.Errorf("healthy service: %d differences, first %+v", len(report.Differences), report.Differences[0])
	}
	if report.Accounts != 7 || report.Clients == 0 {
		t.Errorf("compared %d accounts and %d clients, want 7 accounts and some clients", report.Accounts, report.Clients)
	}
	last := reports[len(reports)-1]
	if !last.Finished || last.Seq != last.Total || last.Events == 0 {
		t.Errorf("last progress report %+v, want finished at the total", last)
	}
}

// corruptSnapshot stores a snapshot of the whole stream in which one client
// of user shows software that no event named, and returns that client's
// listing id. The projector that starts next restores it.
func corruptSnapshot(t *testing.T, js jetstream.JetStream, user string) string {
	t.Helper()
	msgs := readStream(t, js)
	state := replayAll(msgs)

	// A client.revoked event that targets no listed client but names the
	// victim's client id changes only the user agent of the victim's
	// listing, to software that no stored event named.
	opt := projector.ViewOptions{Now: time.Now()}
	var victim, clientID string
	for _, c := range state.Clients(user, opt) {
		if ts := state.Resolve(user, c.ID, opt); len(ts) == 1 && ts[0].ClientID != "" {
			victim, clientID = c.ID, ts[0].ClientID
			break
		}
	}
	if victim == "" {
		t.Fatalf("%s has no listed client with a client id", user)
	}
	tamper := &events.Event{
		ID: "tampered", Type: events.ClientRevoked, V: events.Version, Time: time.Now().Add(24 * time.Hour), Node: "tamper",
		User: user, Target: "client/none", Client: &events.Client{ID: clientID, Software: "Tampered"},
	}
	if err := state.Apply(tamper); err != nil {
		t.Fatal(err)
	}

	data, err := projector.EncodeSnapshot(state, msgs[len(msgs)-1].seq)
	if err != nil {
		t.Fatal(err)
	}
	putSnapshot(t, js, data)
	return victim
}

// putSnapshot stores data where the projector looks for its snapshot.
func putSnapshot(t *testing.T, js jetstream.JetStream, data []byte) {
	t.Helper()
	ctx := context.Background()
	store, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: defaultSnapshotBucket})
	if err != nil {
		t.Fatal(err)
	}
	// The object name that projector.Runner uses for its snapshot.
	if _, err := store.PutBytes(ctx, "state", data); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyFindsCorruptedView(t *testing.T) {
	user := "user3@example.test"
	var victim string
	f := newAuditFixture(t, auditSetup{beforeRunner: func(t *testing.T, js jetstream.JetStream) {
		simulateInto(t, js, 5, 800, 52)
		victim = corruptSnapshot(t, js, user)
	}})
	live, _ := f.runner.Clients(user)
	tampered := false
	for _, c := range live {
		tampered = tampered || (c.ID == victim && c.UserAgent.Software == "Tampered")
	}
	if !tampered {
		t.Fatalf("the projector did not restore the corrupted snapshot: %+v", live)
	}

	report, err := query.Verify(context.Background(), f.js, f.client, query.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Differences) != 1 {
		t.Fatalf("%d differences, want 1: %+v", len(report.Differences), report.Differences)
	}
	d := report.Differences[0]
	if d.User != user || d.Client != victim || d.Kind != query.DiffFields {
		t.Errorf("difference %+v, want fields of %s of %s", d, victim, user)
	}
	if len(d.Changes) != 1 || d.Changes[0].Field != "user_agent" {
		t.Errorf("changes %+v, want only user_agent", d.Changes)
	}
}

// TestVerifyFindsMissingAccount checks that an account that the replay
// builds and the live view lacks altogether is reported, although no page
// of the live view names it.
func TestVerifyFindsMissingAccount(t *testing.T) {
	const user = "user2@example.test"
	var want []projector.ClientView
	f := newAuditFixture(t, auditSetup{beforeRunner: func(t *testing.T, js jetstream.JetStream) {
		simulateInto(t, js, 4, 600, 53)
		msgs := readStream(t, js)
		state := replayAll(msgs)
		delete(state.Users, user)
		data, err := projector.EncodeSnapshot(state, msgs[len(msgs)-1].seq)
		if err != nil {
			t.Fatal(err)
		}
		putSnapshot(t, js, data)
	}})
	want = viewAt(replayAll(readStream(t, f.js)), user, f.now)
	if len(want) == 0 {
		t.Fatalf("%s has no clients in the replay", user)
	}

	report, err := query.Verify(context.Background(), f.js, f.client, query.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Differences) != len(want) {
		t.Fatalf("%d differences, want one per client of %s (%d): %+v", len(report.Differences), user, len(want), report.Differences)
	}
	for i, d := range report.Differences {
		if d.User != user || d.Kind != query.DiffOnlyReplay || d.Client != want[i].ID {
			t.Errorf("difference %d = %+v, want %s of %s only in the replay", i, d, want[i].ID, user)
		}
	}
}

package query_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

// TestMaxAgeKeepsViewsInSnapshot checks the retention rule: once the
// stream's maximum age removed an account's events, a projector restored
// from the snapshot still lists its clients, while history and past views
// have nothing left and say that the stream lost its start.
func TestMaxAgeKeepsViewsInSnapshot(t *testing.T) {
	f := newAuditFixture(t, auditSetup{})
	ctx := context.Background()
	aliceAndBobOn(t, f)
	before, _ := f.runner.Clients("alice@example.test")
	if err := f.runner.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}

	if err := events.EnsureStreams(ctx, f.js, events.StreamOptions{MaxAge: time.Second, Duplicates: time.Second}); err != nil {
		t.Fatal(err)
	}
	stream, err := f.js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events still stored 15s after setting a maximum age of 1s", info.State.Msgs)
		}
	}

	restored := projector.NewRunner(projector.Config{JS: f.js, SnapshotInterval: -1, HeartbeatTimeout: auditTimeout, Now: func() time.Time { return f.now }})
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- restored.Run(rctx) }()
	defer func() { stop(); <-done }()
	for deadline := time.Now().Add(10 * time.Second); restored.Ready() != nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("restored projector not ready: %v", restored.Ready())
		}
	}
	if after, _ := restored.Clients("alice@example.test"); !reflect.DeepEqual(after, before) {
		t.Errorf("restored view of alice:\n got %+v\nwant %+v", after, before)
	}

	h, err := f.client.History(ctx, query.HistoryRequest{User: "alice@example.test"})
	if err != nil || len(h.Entries) != 0 {
		t.Errorf("history after the maximum age: %d events (%v), want none", len(h.Entries), err)
	}
	at, err := f.client.ClientsAt(ctx, query.ClientsAtRequest{User: "alice@example.test", At: f.now})
	if err != nil {
		t.Fatal(err)
	}
	if len(at.Clients) != 0 || at.Replay.FirstSeq <= 1 {
		t.Errorf("clients --at after the maximum age: %d clients, first sequence %d; want none and a first sequence above 1", len(at.Clients), at.Replay.FirstSeq)
	}
}

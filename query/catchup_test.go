package query_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/natstest"
	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

// TestReadsWaitForCatchUp starts the service over a projector that has not
// yet replayed a stream with alice's client. Reads of the view must fail as
// unavailable instead of showing an empty account, and succeed once the
// projector has caught up.
func TestReadsWaitForCatchUp(t *testing.T) {
	nc, js := natstest.Start(t).Connect(t)
	ctx := context.Background()
	if err := events.EnsureStreams(ctx, js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(js, events.PublisherOptions{})
	login := ev(events.AuthPassword, "alice@example.test", 0)
	login.Session, login.Client = &events.Session{ID: "s1"}, &events.Client{ID: "gajim-1", Software: "Gajim"}
	if _, err := pub.Publish(ctx, login); err != nil {
		t.Fatal(err)
	}

	runner := projector.NewRunner(projector.Config{JS: js, SnapshotInterval: -1})
	svc, err := query.Start(query.Config{NC: nc, Views: runner, Publisher: pub, Logger: slog.New(slog.DiscardHandler),
		Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	client := query.NewClient(nc)

	_, err = client.List(ctx, query.ListRequest{User: "alice@example.test"})
	if !errors.Is(err, query.ErrUnavailable) {
		t.Errorf("list before catch-up: error = %v, want ErrUnavailable", err)
	} else if !strings.Contains(err.Error(), "replaying") {
		t.Errorf("list before catch-up: error = %v, want it to say the replica is replaying", err)
	}
	_, err = client.Revoke(ctx, query.RevokeRequest{User: "alice@example.test", Selector: "software/Gajim"})
	if !errors.Is(err, query.ErrUnavailable) {
		t.Errorf("revoke before catch-up: error = %v, want ErrUnavailable", err)
	}

	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runner.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := runner.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	reply, err := client.List(ctx, query.ListRequest{User: "alice@example.test"})
	if err != nil {
		t.Fatalf("list after catch-up: %v", err)
	}
	if len(reply.Clients) != 1 {
		t.Errorf("list after catch-up has %d clients, want alice's one: %+v", len(reply.Clients), reply.Clients)
	}
}

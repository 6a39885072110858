package query_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/natstest"
	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

var base = time.Now().UTC().Add(-time.Hour).Truncate(time.Second)

type fixture struct {
	js     jetstream.JetStream
	pub    *events.Publisher
	runner *projector.Runner
	client *query.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	nc, js := natstest.Start(t).Connect(t)
	ctx := context.Background()
	if err := events.EnsureStreams(ctx, js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(js, events.PublisherOptions{})
	runner := projector.NewRunner(projector.Config{JS: js, SnapshotInterval: -1})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runner.Run(rctx) }()
	svc, err := query.Start(query.Config{NC: nc, Views: runner, Publisher: pub, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		svc.Stop()
		cancel()
		<-done
	})
	return &fixture{js: js, pub: pub, runner: runner, client: query.NewClient(nc)}
}

func (f *fixture) publish(t *testing.T, evs ...*events.Event) {
	t.Helper()
	var last uint64
	for _, e := range evs {
		seq, err := f.pub.Publish(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		last = seq
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.runner.WaitApplied(ctx, last); err != nil {
		t.Fatal(err)
	}
}

var nextID int

func ev(typ events.Type, user string, offset time.Duration) *events.Event {
	nextID++
	return &events.Event{ID: fmt.Sprintf("ev-%d", nextID), Type: typ, V: 1,
		Time: base.Add(offset), Node: "xmpp-1", User: user}
}

// aliceAndBob publishes a password client (Gajim), a FAST client
// (Conversations) and a grant-only client (Movim) for alice, and one
// password client for bob.
func aliceAndBob(t *testing.T, f *fixture) {
	t.Helper()
	gajim := &events.Client{ID: "gajim-1", Software: "Gajim", Version: "1.9.5", Device: "laptop"}
	conv := &events.Client{ID: "conv-1", Software: "Conversations", Version: "2.16.5", Device: "phone"}

	e1 := ev(events.AuthPassword, "alice@example.test", 0)
	e1.Session, e1.Client, e1.Mechanism = &events.Session{ID: "s1"}, gajim, "SCRAM-SHA-256"
	e2 := ev(events.SessionBound, "alice@example.test", time.Second)
	e2.Session, e2.Client = &events.Session{ID: "s1", Resource: "gajim.A"}, gajim
	e3 := ev(events.FastMinted, "alice@example.test", 2*time.Second)
	e3.Client, e3.Fast = conv, &events.Fast{Fingerprint: "sha256:aaaa"}
	e4 := ev(events.AuthFast, "alice@example.test", 3*time.Second)
	e4.Client, e4.Session, e4.Fast = conv, &events.Session{ID: "s2"}, &events.Fast{Fingerprint: "sha256:aaaa"}
	e5 := ev(events.SessionBound, "alice@example.test", 4*time.Second)
	e5.Client, e5.Session = conv, &events.Session{ID: "s2", Resource: "conv.B"}
	e6 := ev(events.GrantUsed, "alice@example.test", 5*time.Second)
	e6.Grant = &events.Grant{ID: "g1", Name: "Movim", URI: "https://movim.eu/", Permission: "normal"}
	b1 := ev(events.AuthPassword, "bob@example.test", 0)
	b1.Session, b1.Client = &events.Session{ID: "s9"}, &events.Client{ID: "bob-gajim", Software: "Gajim"}
	f.publish(t, e1, e2, e3, e4, e5, e6, b1)
}

func list(t *testing.T, f *fixture, user string) map[string]projector.ClientView {
	t.Helper()
	reply, err := f.client.List(context.Background(), query.ListRequest{User: user})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]projector.ClientView{}
	for _, c := range reply.Clients {
		out[c.UserAgent.Software] = c
	}
	return out
}

func TestListRevokeList(t *testing.T) {
	f := newFixture(t)
	aliceAndBob(t, f)

	clients := list(t, f, "Alice@Example.Test")
	if len(clients) != 3 {
		t.Fatalf("alice has %d clients, want 3: %+v", len(clients), clients)
	}
	conv := clients["Conversations"]
	if !conv.Connected || !conv.HasAuth(projector.AuthFast) || conv.Type != projector.TypeSession {
		t.Errorf("Conversations = %+v, want connected session with fast auth", conv)
	}

	reply, err := f.client.Revoke(context.Background(), query.RevokeRequest{User: "alice@example.test", Selector: conv.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(reply.Revoked) != 1 || reply.Revoked[0] != conv.ID || reply.PasswordResetRequired {
		t.Errorf("revoke reply = %+v, want only %s without password reset", reply, conv.ID)
	}
	after := list(t, f, "alice@example.test")
	if _, ok := after["Conversations"]; ok {
		t.Errorf("Conversations still listed right after its revoke: %+v", after)
	}
	if len(after) != 2 {
		t.Errorf("alice has %d clients after the revoke, want 2", len(after))
	}
	assertCommand(t, f, conv.ID)
}

func assertCommand(t *testing.T, f *fixture, target string) {
	t.Helper()
	stream, err := f.js.Stream(context.Background(), events.CommandStreamName)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := stream.GetLastMsgForSubject(context.Background(), events.CommandSubject("alice@example.test"))
	if err != nil {
		t.Fatalf("no revoke command stored: %v", err)
	}
	cmd, err := events.DecodeCommand(msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Target != target || cmd.ClientID != "conv-1" {
		t.Errorf("command target %q client %q, want %q conv-1", cmd.Target, cmd.ClientID, target)
	}
	if len(cmd.Sessions) != 1 || cmd.Sessions[0] != (events.SessionRef{Node: "xmpp-1", ID: "s2"}) {
		t.Errorf("command sessions = %+v, want xmpp-1/s2", cmd.Sessions)
	}
	if len(cmd.Fast) != 1 || cmd.Fast[0] != "sha256:aaaa" {
		t.Errorf("command fast = %v, want sha256:aaaa", cmd.Fast)
	}
}

func TestRevokePasswordClient(t *testing.T) {
	f := newFixture(t)
	aliceAndBob(t, f)
	gajim := list(t, f, "alice@example.test")["Gajim"]

	reply, err := f.client.Revoke(context.Background(), query.RevokeRequest{User: "alice@example.test", Selector: gajim.ID})
	if err != nil {
		t.Fatal(err)
	}
	if !reply.PasswordResetRequired {
		t.Errorf("revoke of a password client: PasswordResetRequired = false")
	}
	after := list(t, f, "alice@example.test")["Gajim"]
	if after.Connected {
		t.Errorf("Gajim still connected after its revoke")
	}
	if len(after.Auth) != 1 || after.Auth[0] != projector.AuthPassword {
		t.Errorf("Gajim auth after revoke = %v, want only password", after.Auth)
	}
}

func TestRevokeNotFoundLooksTheSame(t *testing.T) {
	f := newFixture(t)
	aliceAndBob(t, f)
	bobs := list(t, f, "bob@example.test")["Gajim"]

	cases := []struct{ name, selector string }{
		{"other account", bobs.ID},
		{"unknown", "client/aaaaaaaaaaaaaaaa"},
		{"empty", ""},
		{"malformed", "not an id at all"},
		{"unknown software", "software/Pidgin"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.client.Revoke(context.Background(), query.RevokeRequest{User: "alice@example.test", Selector: tc.selector})
			if !errors.Is(err, query.ErrNotFound) {
				t.Fatalf("error = %v, want ErrNotFound", err)
			}
			if err.Error() != query.ErrNotFound.Error() {
				t.Errorf("error text %q differs from the plain not-found text", err)
			}
		})
	}
	if len(list(t, f, "bob@example.test")) != 1 {
		t.Error("bob lost his client to alice's request")
	}
}

func TestRevokeBySoftwareRevokesAll(t *testing.T) {
	f := newFixture(t)
	var evs []*events.Event
	for i, id := range []string{"d1", "d2"} {
		e := ev(events.AuthFast, "carol@example.test", time.Duration(i)*time.Second)
		e.Client, e.Session = &events.Client{ID: id, Software: "Dino", Version: "0.4.4"}, &events.Session{ID: "s" + id}
		m := ev(events.FastMinted, "carol@example.test", time.Duration(i)*time.Second)
		m.Client, m.Fast = e.Client, &events.Fast{Fingerprint: "sha256:" + id}
		evs = append(evs, m, e)
	}
	other := ev(events.FastMinted, "carol@example.test", 5*time.Second)
	other.Client, other.Fast = &events.Client{ID: "m1", Software: "Monal"}, &events.Fast{Fingerprint: "sha256:m1"}
	f.publish(t, append(evs, other)...)

	reply, err := f.client.Revoke(context.Background(), query.RevokeRequest{User: "carol@example.test", Selector: "software/Dino"})
	if err != nil {
		t.Fatal(err)
	}
	if len(reply.Revoked) != 2 {
		t.Errorf("software/Dino revoked %v, want both Dino clients", reply.Revoked)
	}
	left := list(t, f, "carol@example.test")
	if len(left) != 1 || left["Monal"].ID == "" {
		t.Errorf("after revoking Dino carol has %+v, want only Monal", left)
	}
}

func TestListBadUser(t *testing.T) {
	f := newFixture(t)
	_, err := f.client.List(context.Background(), query.ListRequest{User: "alice@example.test/phone"})
	if !errors.Is(err, query.ErrBadRequest) {
		t.Fatalf("error = %v, want ErrBadRequest", err)
	}
}

func TestRevokesBeyondLimitRejected(t *testing.T) {
	nc, js := natstest.Start(t).Connect(t)
	ctx := context.Background()
	if err := events.EnsureStreams(ctx, js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(js, events.PublisherOptions{})
	runner := projector.NewRunner(projector.Config{JS: js, SnapshotInterval: -1})
	rctx, stopRunner := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runner.Run(rctx) }()
	f := &fixture{js: js, pub: pub, runner: runner}
	aliceAndBob(t, f)

	// With the projector stopped, a revoke is stored but waits for its
	// sequence to be applied until its timeout, so it holds its slot.
	stopRunner()
	<-done
	svc, err := query.Start(query.Config{NC: nc, Views: runner, Publisher: pub, Logger: slog.New(slog.DiscardHandler),
		MaxConcurrentRevokes: 1, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	client := query.NewClient(nc)
	clients, _ := runner.Clients("alice@example.test")
	if len(clients) < 2 {
		t.Fatalf("alice has %d clients, want at least 2", len(clients))
	}

	before := lastSeq(t, js, events.StreamName)
	first := make(chan error, 1)
	go func() {
		_, err := client.Revoke(ctx, query.RevokeRequest{User: "alice@example.test", Selector: clients[0].ID})
		first <- err
	}()
	// The first revoke holds its slot from before its event is stored until
	// its wait for the projector times out.
	for deadline := time.Now().Add(5 * time.Second); lastSeq(t, js, events.StreamName) == before; {
		if time.Now().After(deadline) {
			t.Fatal("the first revoke stored no event within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err = client.Revoke(ctx, query.RevokeRequest{User: "alice@example.test", Selector: clients[1].ID})
	if !errors.Is(err, query.ErrUnavailable) {
		t.Errorf("second revoke while the first holds the only slot: %v, want ErrUnavailable", err)
	}
	if err := <-first; err != nil {
		t.Errorf("first revoke: %v", err)
	}
	if _, err := client.Revoke(ctx, query.RevokeRequest{User: "alice@example.test", Selector: clients[1].ID}); err != nil {
		t.Errorf("revoke after the slot was freed: %v", err)
	}
}

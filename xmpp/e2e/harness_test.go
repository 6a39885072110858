package e2e

import (
	"context"
	"errors"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func requireResult(t *testing.T, out Outcome) {
	t.Helper()
	if !out.OK() {
		t.Fatalf("got %s, want a result", out)
	}
}

func requireStanzaError(t *testing.T, out Outcome, errorType, condition string) {
	t.Helper()
	if out.Error != OutcomeStanzaError || out.StanzaError == nil {
		t.Fatalf("got %s, want a stanza error", out)
	}
	if out.StanzaError.Type != errorType {
		t.Errorf("error type = %q, want %q (%s)", out.StanzaError.Type, errorType, out)
	}
	if out.StanzaError.Condition != condition {
		t.Errorf("condition = %q, want %q (%s)", out.StanzaError.Condition, condition, out)
	}
	if out.StanzaError.ConditionNS != NSStanzas {
		t.Errorf("condition namespace = %q, want %q", out.StanzaError.ConditionNS, NSStanzas)
	}
}

func TestProsodyHarness(t *testing.T) {
	p := StartProsody(t, Options{})
	ctx := testContext(t)
	alice := p.User("alice")

	outcomes := RunClient(t, ctx, alice,
		Ping(p.Domain),
		Disco(p.Domain, ""),
		List(NSCAM, ""),
		List(NSManageClients, alice.JID),
		Revoke(NSCAM, "", "client/unknown"),
	)

	requireResult(t, outcomes[0])
	if outcomes[0].From != p.Domain {
		t.Errorf("ping reply from = %q, want %q", outcomes[0].From, p.Domain)
	}

	requireResult(t, outcomes[1])
	if !slices.Contains(outcomes[1].Features, "urn:xmpp:ping") {
		t.Errorf("server features = %v, want urn:xmpp:ping among them", outcomes[1].Features)
	}
	if !slices.Contains(outcomes[1].Identities, Identity{Category: "server", Type: "im", Name: "Prosody"}) {
		t.Errorf("server identities = %+v, want server/im Prosody", outcomes[1].Identities)
	}

	// With no component connected, mod_delegation rejects delegated IQs.
	for _, out := range outcomes[2:] {
		requireStanzaError(t, out, "cancel", "service-unavailable")
	}

	p.Restart()
	outcomes = RunClient(t, ctx, alice, Ping(p.Domain))
	requireResult(t, outcomes[0])
}

func TestProsodyComponentDown(t *testing.T) {
	p := StartProsody(t, Options{})
	ctx := testContext(t)
	bob := p.User("bob")

	outcomes := RunClient(t, ctx, bob,
		Ping(p.ComponentJID),
		List(NSCAM, p.ComponentJID),
		Disco(bob.JID, ""),
	)

	// Prosody replies with an error for an external component that is not
	// connected.
	for _, out := range outcomes[:2] {
		requireStanzaError(t, out, "wait", "remote-server-timeout")
		if out.From != p.ComponentJID {
			t.Errorf("error from = %q, want %q", out.From, p.ComponentJID)
		}
	}

	requireResult(t, outcomes[2])
	for _, ns := range []string{NSCAM, NSManageClients} {
		if slices.Contains(outcomes[2].Features, ns) {
			t.Errorf("account features = %v, want no %s while the component is down", outcomes[2].Features, ns)
		}
	}
}

func TestClientLoginFailure(t *testing.T) {
	p := StartProsody(t, Options{Users: []string{"carol"}})
	ctx := testContext(t)

	cases := []struct {
		name      string
		spec      func() ClientSpec
		wantEvent string
	}{
		{
			name: "wrong password",
			spec: func() ClientSpec {
				spec := p.User("carol")
				spec.Password = "not-" + spec.Password
				return spec
			},
			wantEvent: EventLoginFailed,
		},
		{
			name: "unknown user",
			spec: func() ClientSpec {
				spec := p.User("carol")
				spec.JID = "mallory@" + p.Domain
				return spec
			},
			wantEvent: EventLoginFailed,
		},
		{
			name: "port closed",
			spec: func() ClientSpec {
				spec := p.User("carol")
				spec.Addr = "127.0.0.1:" + strconv.Itoa(mustFreePort(t))
				return spec
			},
			wantEvent: EventConnectionFailed,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := ExecClient(ctx, tc.spec(), Ping(p.Domain))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := tr.Online(); ok {
				t.Errorf("client logged in, want %s: %+v", tc.wantEvent, tr.Events)
			}
			if len(tr.Events) == 0 || tr.Events[0].Event != tc.wantEvent {
				t.Errorf("events = %+v, want %s first", tr.Events, tc.wantEvent)
			}
			if tr.ExitCode != exitNotOnline {
				t.Errorf("exit code = %d, want %d", tr.ExitCode, exitNotOnline)
			}
			if len(tr.Outcomes) != 0 {
				t.Errorf("outcomes = %v, want none", tr.Outcomes)
			}
		})
	}
}

func TestSessionServerShutdown(t *testing.T) {
	p := StartProsody(t, Options{})
	ctx := testContext(t)
	alice := p.User("alice")

	session := StartClient(t, ctx, alice)
	if session.JID != alice.JID+"/"+alice.Resource {
		t.Errorf("bound JID = %q, want %q", session.JID, alice.JID+"/"+alice.Resource)
	}
	requireResult(t, session.Do(ctx, Ping(p.Domain))[0])

	p.Stop()
	if p.Running() {
		t.Error("Running() = true after Stop")
	}
	got, err := session.WaitDisconnect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.By != "server" {
		t.Errorf("disconnect by = %q, want server", got.By)
	}
	if got.StreamError != "system-shutdown" {
		t.Errorf("stream error = %q, want system-shutdown", got.StreamError)
	}

	after := session.Do(ctx, Ping(p.Domain))
	if after[0].Error != OutcomeNotConnected {
		t.Errorf("ping after disconnect: got %s, want %q", after[0], OutcomeNotConnected)
	}

	p.Start()
	if !p.Running() {
		t.Error("Running() = false after Start")
	}
	again := StartClient(t, ctx, alice)
	requireResult(t, again.Do(ctx, Ping(p.Domain))[0])

	// A session that the client closes reports the client as the closer.
	again.Close()
	got, err = again.WaitDisconnect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.By != "client" {
		t.Errorf("disconnect by = %q, want client", got.By)
	}
}

func TestComponentHandshake(t *testing.T) {
	p := StartProsody(t, Options{})
	ctx := testContext(t)

	secret, err := os.ReadFile(p.ComponentSecretFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(secret) != p.ComponentSecret {
		t.Errorf("secret file contains %q, want ComponentSecret", secret)
	}

	wrong, err := connectComponent(ctx, p, p.ComponentJID, "not-"+p.ComponentSecret)
	if err == nil {
		wrong.Close()
		t.Error("handshake with a wrong secret succeeded")
	}

	session, err := connectComponent(ctx, p, p.ComponentJID, p.ComponentSecret)
	if err != nil {
		t.Fatalf("handshake with ComponentSecret: %v", err)
	}
	if err := session.Close(); err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("close component session: %v", err)
	}
}

func TestHarnessDecodesDelegatedReplies(t *testing.T) {
	p := StartProsody(t, Options{})
	ctx := testContext(t)
	alice := p.User("alice")
	fake := startFakeComponent(t, p)

	outcomes := RunClient(t, ctx, alice,
		List(NSCAM, ""),
		Revoke(NSManageClients, alice.JID, "client/fake-1"),
		Disco(alice.JID, ""),
	)

	list := outcomes[0]
	requireResult(t, list)
	if len(list.Clients) != 1 {
		t.Fatalf("clients = %+v, want one", list.Clients)
	}
	client := list.Clients[0]
	if client.UserAgent == nil || client.Permission == nil || len(client.Other) != 1 {
		t.Fatalf("client = %+v, want user-agent, permission and one other child", client)
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"id", client.ID, "client/fake-1"},
		{"connected", client.Connected, "true"},
		{"type", client.Type, "session"},
		{"attribute count", len(client.Attrs), 3},
		{"first-seen", client.FirstSeen, "2026-01-02T03:04:05Z"},
		{"last-seen", client.LastSeen, "2026-01-03T04:05:06Z"},
		{"auth", client.Auth, []Name{{"password", NSCAM}, {"fast", NSCAM}}},
		{"software", client.UserAgent.Fields["software"], "Gajim"},
		{"uri", client.UserAgent.Fields["uri"], "https://gajim.org/"},
		{"device", client.UserAgent.Fields["device"], "laptop"},
		{"permission", client.Permission.Status, "unrestricted"},
		{"other child", client.Other[0].Name + " " + client.Other[0].NS, "extra urn:example:extra"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("client %s = %v, want %v", c.name, c.got, c.want)
		}
	}

	revoke := outcomes[1]
	requireStanzaError(t, revoke, "cancel", "service-unavailable")
	if revoke.StanzaError.AppName != "password-reset-required" || revoke.StanzaError.AppNS != NSManageClients {
		t.Errorf("application condition = %s in %s, want password-reset-required in %s",
			revoke.StanzaError.AppName, revoke.StanzaError.AppNS, NSManageClients)
	}

	// mod_delegation adds the delegated namespaces to the account's
	// disco#info once the component has replied to its disco queries.
	for _, ns := range []string{NSCAM, NSManageClients} {
		if !slices.Contains(outcomes[2].Features, ns) {
			t.Errorf("account features = %v, want %s among them", outcomes[2].Features, ns)
		}
	}

	requests := fake.Requests()
	if len(requests) != 2 {
		t.Fatalf("component received %d delegated requests, want 2", len(requests))
	}
	for _, req := range requests {
		if from := req.attr("from"); from != alice.JID+"/"+alice.Resource {
			t.Errorf("inner IQ from = %q, want the full JID %s/%s", from, alice.JID, alice.Resource)
		}
	}
}

func TestMissingProgramError(t *testing.T) {
	err := checkPrograms("prosody-missing-e2e")
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("error = %v, want ErrNotInstalled", err)
	}
	for _, want := range []string{"prosody-missing-e2e", InstallHint} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestSessionPendingIQDisconnect(t *testing.T) {
	p := StartProsody(t, Options{})
	ctx := testContext(t)
	startFakeComponent(t, p)
	spec := p.User("alice")
	spec.Timeout = 30 * time.Second
	session := StartClient(t, ctx, spec)

	stopped := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		stopped <- p.stop()
	}()
	begin := time.Now()
	out := session.Do(ctx, RawIQ("get", p.ComponentJID, fakeHangPayload))[0]
	elapsed := time.Since(begin)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}

	if out.Error != OutcomeNotConnected {
		t.Errorf("got %s, want %q", out, OutcomeNotConnected)
	}
	if elapsed > spec.Timeout/2 {
		t.Errorf("outcome took %v, want it soon after the stream ended", elapsed)
	}
}

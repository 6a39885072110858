package ingest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/ingest"
)

const commandsPath = "/v1/commands?node=xmpp-1&domain=example.test"

func (f *fixture) poll(path string) ingest.CommandsResponse {
	f.t.Helper()
	status, body := f.do(http.MethodGet, path, nil)
	if status != http.StatusOK {
		f.t.Fatalf("GET %s = %d %s, want 200", path, status, body)
	}
	var resp ingest.CommandsResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		f.t.Fatal(err)
	}
	return resp
}

func (f *fixture) ack(node string, acks ...string) ingest.AckResponse {
	f.t.Helper()
	status, body := f.do(http.MethodPost, "/v1/commands/ack", jsonBody(f.t, ingest.AckRequest{Node: node, Domain: "example.test", Acks: acks}))
	if status != http.StatusOK {
		f.t.Fatalf("ack = %d %s, want 200", status, body)
	}
	var resp ingest.AckResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		f.t.Fatal(err)
	}
	return resp
}

func (f *fixture) publishCommand(c *events.Command) {
	f.t.Helper()
	if _, err := f.pub.PublishCommand(context.Background(), c); err != nil {
		f.t.Fatal(err)
	}
}

func TestCommandsRedeliveredUntilAcked(t *testing.T) {
	f := newFixture(t, events.StreamOptions{}, func(c *ingest.Config) { c.AckWait = 300 * time.Millisecond })
	if got := f.poll(commandsPath); len(got.Commands) != 0 {
		t.Fatalf("first poll = %+v, want no commands", got)
	}
	f.publishCommand(commandFor("alice@example.test", 1))
	f.publishCommand(commandFor("bob@other.test", 2))

	first := f.poll(commandsPath + "&wait=2s")
	if len(first.Commands) != 1 {
		t.Fatalf("poll = %+v, want alice's command only", first)
	}
	cmd, err := events.DecodeCommand(first.Commands[0].Command)
	if err != nil || cmd.ID != "cmd-1" || first.Commands[0].Delivered != 1 {
		t.Fatalf("delivered %+v (%v), want cmd-1 on its first delivery", first.Commands[0], err)
	}

	again := f.poll(commandsPath + "&wait=3s")
	if len(again.Commands) != 1 || again.Commands[0].Delivered != 2 {
		t.Fatalf("poll after the ack wait = %+v, want cmd-1 delivered a second time", again)
	}
	acked := f.ack("xmpp-1", again.Commands[0].Ack)
	if len(acked.Results) != 1 || !acked.Results[0].OK {
		t.Fatalf("ack = %+v, want ok", acked)
	}
	if late := f.poll(commandsPath + "&wait=1s"); len(late.Commands) != 0 {
		t.Errorf("poll after the ack = %+v, want nothing", late)
	}
}

func TestCommandsLongPoll(t *testing.T) {
	f := newFixture(t, events.StreamOptions{}, nil)
	f.poll(commandsPath)

	got := make(chan ingest.CommandsResponse, 1)
	start := time.Now()
	go func() { got <- f.poll(commandsPath + "&wait=10s") }()
	time.Sleep(300 * time.Millisecond)
	f.publishCommand(commandFor("alice@example.test", 1))

	resp := <-got
	if len(resp.Commands) != 1 {
		t.Fatalf("long poll = %+v, want the command", resp)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("long poll returned after %v, want soon after the command", elapsed)
	}
}

func TestCommandsEveryNodeReceives(t *testing.T) {
	f := newFixture(t, events.StreamOptions{}, nil)
	other := "/v1/commands?node=xmpp-2&domain=EXAMPLE.test"
	f.poll(commandsPath)
	f.poll(other)
	f.publishCommand(commandFor("alice@example.test", 1))

	for _, path := range []string{commandsPath, other} {
		resp := f.poll(path + "&wait=2s")
		if len(resp.Commands) != 1 {
			t.Errorf("%s: %+v, want the command", path, resp)
		}
	}
}

func TestCommandsAckChecks(t *testing.T) {
	f := newFixture(t, events.StreamOptions{}, nil)
	f.poll(commandsPath)
	f.publishCommand(commandFor("alice@example.test", 1))
	resp := f.poll(commandsPath + "&wait=2s")
	if len(resp.Commands) != 1 {
		t.Fatalf("poll = %+v, want one command", resp)
	}
	ack := resp.Commands[0].Ack
	cases := []struct {
		name string
		node string
		ack  string
	}{
		{"other node", "xmpp-2", ack},
		{"arbitrary subject", "xmpp-1", "clientele.events.user.x.y.session.bound"},
		{"other stream", "xmpp-1", strings.Replace(ack, events.CommandStreamName, events.StreamName, 1)},
		{"not a number", "xmpp-1", ack[:strings.LastIndexByte(ack, '.')] + ".x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := f.ack(tc.node, tc.ack).Results[0]
			if res.OK || !strings.Contains(res.Error, "invalid ack") {
				t.Errorf("ack = %+v, want it rejected as invalid", res)
			}
		})
	}
	if res := f.ack("xmpp-1", ack).Results[0]; !res.OK {
		t.Errorf("valid ack = %+v, want ok", res)
	}
}

func TestCommandsBadRequests(t *testing.T) {
	f := newFixture(t, events.StreamOptions{}, nil)
	cases := []struct {
		name string
		path string
		want string
	}{
		{"missing domain", "/v1/commands?node=xmpp-1", "domain is missing"},
		{"JID as domain", "/v1/commands?node=xmpp-1&domain=alice@example.test", "bare XMPP domain"},
		{"node with dot", "/v1/commands?node=xmpp.1&domain=example.test", "node"},
		{"missing node", "/v1/commands?domain=example.test", "node"},
		{"bad wait", commandsPath + "&wait=soon", "wait"},
		{"negative wait", commandsPath + "&wait=-1s", "wait"},
		{"max too large", commandsPath + "&max=5000", "max"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.do(http.MethodGet, tc.path, nil)
			if status != http.StatusBadRequest || !strings.Contains(string(body), tc.want) {
				t.Errorf("GET %s = %d %s, want 400 naming %s", tc.path, status, body, tc.want)
			}
		})
	}
}

func TestCloseEndsLongPolls(t *testing.T) {
	f := newFixture(t, events.StreamOptions{}, nil)
	f.poll(commandsPath)
	done := make(chan ingest.CommandsResponse, 1)
	go func() { done <- f.poll(commandsPath + "&wait=20s") }()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	f.server.Close()
	select {
	case resp := <-done:
		if len(resp.Commands) != 0 {
			t.Errorf("poll ended by Close = %+v, want no commands", resp)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long poll still open 5s after Close")
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("poll ended %v after Close, want at once", elapsed)
	}
}

func TestCommandsSinceFirstPoll(t *testing.T) {
	f := newFixture(t, events.StreamOptions{}, nil)
	bootTime := time.Now().UTC().Format(time.RFC3339)
	f.publishCommand(commandFor("alice@example.test", 1))

	withSince := f.poll("/v1/commands?node=xmpp-1&domain=example.test&wait=2s&since=" + bootTime)
	if len(withSince.Commands) != 1 {
		t.Errorf("first poll with since = %+v, want the command published after since", withSince)
	}
	withoutSince := f.poll("/v1/commands?node=xmpp-2&domain=example.test&wait=500ms")
	if len(withoutSince.Commands) != 0 {
		t.Errorf("first poll without since = %+v, want only commands published after it", withoutSince)
	}
	status, body := f.do(http.MethodGet, "/v1/commands?node=xmpp-3&domain=example.test&since=yesterday", nil)
	if status != http.StatusBadRequest || !strings.Contains(string(body), "since") {
		t.Errorf("bad since = %d %s, want 400 naming since", status, body)
	}
}

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

// node is a Prosody with mod_clientele and the clientele serve that it
// reports to over the node interface.
type node struct {
	t  *testing.T
	p  *Prosody
	s  *serveProcess
	nc *nats.Conn
	js jetstream.JetStream
}

// startNode starts Prosody with mod_clientele, opts and the extra module
// option lines, then clientele with its node interface, and waits until
// the module has reached clientele.
func startNode(t *testing.T, opts Options, moduleOptions ...string) *node {
	t.Helper()
	ingestAddr := freeLoopbackAddr(t)
	tokenFile := filepath.Join(t.TempDir(), "ingest.tokens")
	if err := os.WriteFile(tokenFile, []byte("# e2e\n"+randomHex(t, 24)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts.Clientele = &ClienteleModule{URL: "http://" + ingestAddr, TokenFile: tokenFile, Options: moduleOptions}
	p := StartProsody(t, opts)
	s := startClientele(t, p, "--ingest-listen", ingestAddr, "--ingest-token-file", tokenFile)
	nc, js := s.connect()
	n := &node{t: t, p: p, s: s, nc: nc, js: js}
	n.waitBoots(1)
	n.waitLog("enforce_client_ids is off", 1)
	return n
}

// shortContext returns a context that ends 15 seconds from now or with
// ctx, for a wait that should end much sooner than the test.
func shortContext(t *testing.T, ctx context.Context) context.Context {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// pause stops the clientele process with SIGSTOP: connections to it open,
// but no response comes until resume.
func (s *serveProcess) pause() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		s.t.Fatalf("pause clientele: %v", err)
	}
	process := s.cmd.Process
	s.t.Cleanup(func() { _ = process.Signal(syscall.SIGCONT) })
}

// resume continues a paused clientele with SIGCONT.
func (s *serveProcess) resume() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		s.t.Fatalf("resume clientele: %v", err)
	}
}

// waitFor polls check until it returns true or timeout passes, and then
// fails the test with the last description check gave.
func waitFor(t *testing.T, timeout time.Duration, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not reached within %v: %s", timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// events returns the events of the stream whose subjects match filter, in
// stream order.
func (n *node) events(filter string) []*events.Event {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := n.js.OrderedConsumer(ctx, events.StreamName, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		n.t.Fatal(err)
	}
	var out []*events.Event
	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(300 * time.Millisecond))
		if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, nats.ErrTimeout) {
			return out
		}
		if err != nil {
			n.t.Fatalf("reading the event stream: %v", err)
		}
		e, err := events.Decode(msg.Data())
		if err != nil {
			n.t.Fatalf("stored event %s: %v", msg.Data(), err)
		}
		out = append(out, e)
		if meta, err := msg.Metadata(); err == nil && meta.NumPending == 0 {
			return out
		}
	}
}

func (n *node) userEvents(user string) []*events.Event {
	return n.events(events.UserFilter(user))
}

// waitBoots waits until the stream holds count node.started events of the
// node, with distinct boot ids, and returns them.
func (n *node) waitBoots(count int) []*events.Event {
	n.t.Helper()
	subject := events.NodeSubjectPrefix + "." + n.p.NodeID + "." + string(events.NodeStarted)
	var starts []*events.Event
	waitFor(n.t, 15*time.Second, func() (bool, string) {
		starts = n.events(subject)
		return len(starts) >= count, fmt.Sprintf("%d node.started events of %s, want %d", len(starts), n.p.NodeID, count)
	})
	boots := map[string]bool{}
	for _, e := range starts {
		boots[e.Boot] = true
	}
	if len(starts) != count || len(boots) != count {
		n.t.Fatalf("node.started events of %s: %d with %d boot ids, want %d distinct", n.p.NodeID, len(starts), len(boots), count)
	}
	return starts
}

// waitLog waits until Prosody's log contains line at least count times.
func (n *node) waitLog(line string, count int) {
	n.t.Helper()
	waitFor(n.t, 15*time.Second, func() (bool, string) {
		got := strings.Count(n.p.Log(), line)
		return got >= count, fmt.Sprintf("Prosody log has %q %d times, want %d", line, got, count)
	})
}

// list returns the clients of user from the query service.
func (n *node) list(user string) ([]projector.ClientView, error) {
	reply, err := query.NewClient(n.nc).List(context.Background(), query.ListRequest{User: user})
	if err != nil {
		return nil, err
	}
	return reply.Clients, nil
}

// client returns the listed client of user with the client key k, as the
// projector keys them: "r:RESOURCE" for legacy clients, "c:CLIENT-ID" for
// SASL2 clients. It fails the test when the query service fails.
func (n *node) client(user, k string) (projector.ClientView, bool) {
	n.t.Helper()
	clients, err := n.list(user)
	if err != nil {
		n.t.Fatal(err)
	}
	return findClient(clients, projector.ListingID(user, k))
}

func findClient(clients []projector.ClientView, id string) (projector.ClientView, bool) {
	for _, c := range clients {
		if c.ID == id {
			return c, true
		}
	}
	return projector.ClientView{}, false
}

// waitConnected waits until the client with key k of user is listed with
// connected equal to want. A failed list request counts as not yet, so that
// a slow machine does not fail the test.
func (n *node) waitConnected(user, k string, want bool) projector.ClientView {
	n.t.Helper()
	var c projector.ClientView
	waitFor(n.t, 15*time.Second, func() (bool, string) {
		clients, err := n.list(user)
		if err != nil {
			return false, fmt.Sprintf("%s of %s: list failed: %v", k, user, err)
		}
		var ok bool
		c, ok = findClient(clients, projector.ListingID(user, k))
		return ok && c.Connected == want, fmt.Sprintf("%s of %s: listed %v, %+v; want connected %v", k, user, ok, c, want)
	})
	return c
}

// clientele runs the clientele binary with args against n's NATS server.
func (n *node) clientele(args ...string) string {
	n.t.Helper()
	cmd := exec.Command(clienteleBinary(n.t), append(args, "--nats-url", n.s.natsURL)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		n.t.Fatalf("clientele %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// sessionOf returns the session id of the session.bound event of
// resource in evs.
func sessionOf(t *testing.T, evs []*events.Event, resource string) string {
	t.Helper()
	for _, e := range evs {
		if e.Type == events.SessionBound && e.Session.Resource == resource {
			return e.Session.ID
		}
	}
	t.Fatalf("no session.bound of resource %s among %d events", resource, len(evs))
	return ""
}

// countBySession counts the events of each type of session id in evs.
func countBySession(evs []*events.Event, id string) map[events.Type]int {
	counts := map[events.Type]int{}
	for _, e := range evs {
		if e.Session != nil && e.Session.ID == id {
			counts[e.Type]++
		}
	}
	return counts
}

// requireUniqueIDs fails the test when an event id occurs twice in evs.
func requireUniqueIDs(t *testing.T, evs []*events.Event) {
	t.Helper()
	seen := map[string]events.Type{}
	for _, e := range evs {
		if prev, ok := seen[e.ID]; ok {
			t.Errorf("event %s stored twice (%s and %s)", e.ID, prev, e.Type)
		}
		seen[e.ID] = e.Type
	}
}

// withResource returns spec with another resource.
func withResource(spec ClientSpec, resource string) ClientSpec {
	spec.Resource = resource
	return spec
}

// listedClient returns the <client/> with id in out's list.
func listedClient(t *testing.T, out Outcome, id string) Client {
	t.Helper()
	if !out.OK() {
		t.Fatalf("list: %s", out)
	}
	for _, c := range out.Clients {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("list has no client %s: %s", id, out)
	return Client{}
}

// hasLegacyMark reports whether c carries <legacy/> in clientele's
// namespace.
func hasLegacyMark(c Client) bool {
	for _, e := range c.Other {
		if e.NS == NSLegacy && e.Name == "legacy" {
			return true
		}
	}
	return false
}

// NSLegacy is the namespace of clientele's <legacy/> mark in list replies.
const NSLegacy = "https://github.com/clientele-xmpp/clientele/ns/legacy"

package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/ingest"
	"github.com/clientele-xmpp/clientele/ops/natstest"
	"github.com/clientele-xmpp/clientele/ops/settings"
)

const testToken = "test-token-0123456789abcdef"

// fixture is a node interface on an in-process NATS server.
type fixture struct {
	t      *testing.T
	nats   *natstest.Server
	js     jetstream.JetStream
	store  *settings.Store
	server *ingest.Server
	http   *httptest.Server
	pub    *events.Publisher
}

// newFixture starts NATS with the clientele streams, a settings cache and
// the node interface. change may adjust the streams and the Config.
func newFixture(t *testing.T, streams events.StreamOptions, change func(*ingest.Config)) *fixture {
	t.Helper()
	ns := natstest.Start(t)
	_, js := ns.Connect(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := events.EnsureStreams(ctx, js, streams); err != nil {
		t.Fatal(err)
	}
	store, err := settings.Ensure(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	cache := settings.NewCache(store, nil)
	go func() { _ = cache.Run(ctx) }()

	tokens, err := ingest.NewTokens(testToken)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ingest.Config{JS: js, Settings: cache, Tokens: tokens}
	if change != nil {
		change(&cfg)
	}
	srv, err := ingest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	return &fixture{t: t, nats: ns, js: js, store: store, server: srv, http: hs, pub: events.NewPublisher(js, events.PublisherOptions{})}
}

// do sends a request with the test token and returns the status and body.
func (f *fixture) do(method, path string, body io.Reader) (int, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.http.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, data
}

// postEvents sends lines to POST /v1/events and decodes the response.
func (f *fixture) postEvents(query string, lines ...string) (int, ingest.EventsResponse) {
	f.t.Helper()
	status, body := f.do(http.MethodPost, "/v1/events"+query, strings.NewReader(strings.Join(lines, "\n")+"\n"))
	var resp ingest.EventsResponse
	if status == http.StatusOK || status == http.StatusServiceUnavailable {
		if err := json.Unmarshal(body, &resp); err != nil {
			f.t.Fatalf("response %d %s: %v", status, body, err)
		}
	}
	return status, resp
}

// storedIDs returns the Nats-Msg-Id of every message of the event stream.
func (f *fixture) storedIDs() []string {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := f.js.OrderedConsumer(ctx, events.StreamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		f.t.Fatal(err)
	}
	info, err := f.js.Stream(ctx, events.StreamName)
	if err != nil {
		f.t.Fatal(err)
	}
	total := info.CachedInfo().State.Msgs
	var ids []string
	for uint64(len(ids)) < total {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			f.t.Fatalf("reading the stream after %d of %d messages: %v", len(ids), total, err)
		}
		ids = append(ids, msg.Headers().Get(jetstream.MsgIDHeader))
	}
	return ids
}

// eventLine returns a valid session.bound event in the wire form.
func eventLine(t *testing.T, id string, at time.Time) string {
	t.Helper()
	e := &events.Event{
		ID: id, Type: events.SessionBound, V: events.Version, Time: at, Node: "xmpp-1",
		User: "alice@example.test", Session: &events.Session{ID: "s-" + id, Resource: "phone"},
	}
	data, err := events.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func jsonBody(t *testing.T, v any) io.Reader {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(data)
}

func commandFor(user string, n int) *events.Command {
	return &events.Command{
		ID: fmt.Sprintf("cmd-%d", n), Type: events.CommandRevoke, Time: time.Now().UTC(), User: user,
		Target: "client/abc", Resources: []string{"phone"},
		Sessions: []events.SessionRef{{Node: "xmpp-1", ID: "s1"}},
	}
}

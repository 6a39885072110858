package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/ingest"
	"github.com/clientele-xmpp/clientele/ops/natstest"
	"github.com/clientele-xmpp/clientele/ops/settings"
)

// fuzzPublishTimeout is the PublishTimeout of the fuzzed server. The
// response to a request must come within it and two seconds of slack.
const fuzzPublishTimeout = 2 * time.Second

// maxErrorText bounds the error text of one result or response, which may
// quote part of the input but never all of it.
const maxErrorText = 2048

// newFuzzServer starts NATS with the clientele streams and returns the
// handler of a node interface with small limits.
func newFuzzServer(tb testing.TB) http.Handler {
	tb.Helper()
	ns := natstest.Start(tb)
	_, js := ns.Connect(tb)
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	if err := events.EnsureStreams(ctx, js, events.StreamOptions{}); err != nil {
		tb.Fatal(err)
	}
	store, err := settings.Ensure(ctx, js, 1)
	if err != nil {
		tb.Fatal(err)
	}
	cache := settings.NewCache(store, nil)
	go func() { _ = cache.Run(ctx) }()
	tokens, err := ingest.NewTokens(testToken)
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := ingest.New(ingest.Config{
		JS: js, Settings: cache, Tokens: tokens,
		Publisher:       events.NewPublisher(js, events.PublisherOptions{Retries: 1, AckTimeout: time.Second}),
		MaxRequestBytes: 256 << 10, MaxEvents: 100, PublishTimeout: fuzzPublishTimeout,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Close)
	return srv.Handler()
}

// serve sends one request to h and fails t when h takes longer than the
// publish timeout and its slack.
func serve(t *testing.T, h http.Handler, method, target string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, req)
	if took := time.Since(start); took > fuzzPublishTimeout+2*time.Second {
		t.Fatalf("%s %s took %s", method, target, took)
	}
	return rec
}

func nonEmptyLines(body []byte) int {
	n := 0
	for _, line := range bytes.Split(body, []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 {
			n++
		}
	}
	return n
}

// FuzzPostEvents checks that POST /v1/events responds to every body with a
// known status within its publish timeout, with one result per non-empty
// line whose counts add up, and with error texts of bounded length.
func FuzzPostEvents(f *testing.F) {
	valid := `{"id":"e1","type":"session.bound","v":1,"time":"2026-12-04T10:00:00Z","node":"xmpp-1","user":"alice@example.test","session":{"id":"s1","resource":"phone"}}`
	seeds := []string{
		valid,
		valid + "\n" + valid,
		valid + "\n\n  \n" + strings.Replace(valid, `"e1"`, `"e2"`, 1) + "\r\n",
		`{"id":"e3","type":"auth.password","v":9,"time":"2026-12-04T10:00:00Z","node":"xmpp-1","user":"alice@example.test"}`,
		`{"id":"e4","type":"session.bound","v":1,"time":"` + strings.Repeat("9", 3000) + `"}`,
		`not json` + "\n" + valid,
		`[` + valid + `]`,
		strings.Repeat(valid+"\n", 101),
		`{"id":"` + strings.Repeat("x", events.MaxEventSize) + `"}`,
		"\x00\xff\n\x1f\x8b",
		``,
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(valid), true)
	h := newFuzzServer(f)

	f.Fuzz(func(t *testing.T, body []byte, recheck bool) {
		target := "/v1/events"
		if recheck {
			target += "?recheck=1"
		}
		rec := serve(t, h, http.MethodPost, target, body)

		switch rec.Code {
		case http.StatusOK, http.StatusServiceUnavailable:
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			checkErrorBody(t, rec)
			return
		default:
			t.Fatalf("status %d, want 200, 400, 413 or 503: %s", rec.Code, rec.Body)
		}
		var resp ingest.EventsResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("response is not an EventsResponse: %v\n%s", err, rec.Body)
		}
		if lines := nonEmptyLines(body); len(resp.Results) != lines {
			t.Fatalf("%d results for %d non-empty lines", len(resp.Results), lines)
		}
		if sum := resp.Stored + resp.Duplicates + resp.Rejected + resp.Failed; sum != len(resp.Results) {
			t.Fatalf("counts add up to %d for %d results", sum, len(resp.Results))
		}
		for _, res := range resp.Results {
			checkResult(t, res)
		}
	})
}

func checkResult(t *testing.T, res ingest.EventResult) {
	t.Helper()
	if res.OK {
		if res.Seq == 0 || res.Status != 0 || res.Error != "" {
			t.Fatalf("stored result %+v, want a sequence and no error", res)
		}
		return
	}
	switch res.Status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable:
	default:
		t.Fatalf("result of line %d has status %d", res.Line, res.Status)
	}
	if res.Error == "" || len(res.Error) > maxErrorText {
		t.Fatalf("result of line %d has an error text of %d bytes, want 1 to %d", res.Line, len(res.Error), maxErrorText)
	}
}

func checkErrorBody(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == "" {
		t.Fatalf("status %d without a JSON error: %v\n%s", rec.Code, err, rec.Body)
	}
	if len(body.Error) > maxErrorText {
		t.Fatalf("error text of %d bytes, want at most %d", len(body.Error), maxErrorText)
	}
}

// FuzzPostAck checks that POST /v1/commands/ack responds to every body with a
// known status and a JSON body, and never with more results than acks.
func FuzzPostAck(f *testing.F) {
	seeds := []string{
		`{"node":"xmpp-1","domain":"example.test","acks":["$JS.ACK.CLIENTELE_COMMANDS.clientele-node-xmpp-1-x.1.1.1.1.0"]}`,
		`{"node":"xmpp-1","domain":"example.test","acks":[]}`,
		`{"node":"xmpp 1","domain":"example.test","acks":["x"]}`,
		`{"node":"xmpp-1","domain":"@@","acks":["x"]}`,
		fmt.Sprintf(`{"node":"xmpp-1","domain":"example.test","acks":[%s"x"]}`, strings.Repeat(`"x",`, 1000)),
		`{"acks":null}`,
		`[]`,
		``,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	h := newFuzzServer(f)

	f.Fuzz(func(t *testing.T, body []byte) {
		rec := serve(t, h, http.MethodPost, "/v1/commands/ack", body)
		switch rec.Code {
		case http.StatusOK, http.StatusServiceUnavailable:
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			checkErrorBody(t, rec)
			return
		default:
			t.Fatalf("status %d, want 200, 400, 413 or 503: %s", rec.Code, rec.Body)
		}
		var req ingest.AckRequest
		_ = json.Unmarshal(body, &req)
		var resp ingest.AckResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("response is not an AckResponse: %v\n%s", err, rec.Body)
		}
		if len(resp.Results) > len(req.Acks) {
			t.Fatalf("%d results for %d acks", len(resp.Results), len(req.Acks))
		}
	})
}

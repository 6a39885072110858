package ingest_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/ingest"
)

func TestEventsAuthorization(t *testing.T) {
	f := newFixture(t, events.StreamOptions{}, nil)
	line := eventLine(t, "e1", time.Now())
	cases := []struct {
		name   string
		header string
	}{
		{"no header", ""},
		{"wrong token", "Bearer not-the-token-0123456789"},
		{"token prefix", "Bearer " + testToken[:len(testToken)-1]},
		{"basic scheme", "Basic " + testToken},
		{"scheme only", "Bearer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, f.http.URL+"/v1/events", strings.NewReader(line))
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", resp.StatusCode)
			}
			if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
			}
		})
	}
	if ids := f.storedIDs(); len(ids) != 0 {
		t.Errorf("stream holds %v after unauthorized requests, want nothing", ids)
	}
}

func TestEventsMixedBatch(t *testing.T) {
	f := newFixture(t, events.StreamOptions{}, nil)
	now := time.Now().UTC()
	missingSession := `{"id":"bad1","type":"session.bound","v":1,"time":"2026-12-04T10:00:00Z","node":"xmpp-1","user":"alice@example.test"}`
	oversized := `{"id":"big","reason":"` + strings.Repeat("x", events.MaxEventSize) + `"}`
	status, resp := f.postEvents("",
		eventLine(t, "ok1", now),
		"",
		missingSession,
		"not json",
		oversized,
		eventLine(t, "ok2", now),
	)
	if status != http.StatusOK {
		t.Fatalf("status = %d, want 200", status)
	}
	want := []struct {
		line   int
		id     string
		ok     bool
		status int
		field  string
	}{
		{1, "ok1", true, 0, ""},
		{3, "bad1", false, 400, `"session.id"`},
		{4, "", false, 400, "malformed"},
		{5, "", false, 413, "exceeds the limit"},
		{6, "ok2", true, 0, ""},
	}
	if len(resp.Results) != len(want) {
		t.Fatalf("got %d results, want %d: %+v", len(resp.Results), len(want), resp.Results)
	}
	for i, w := range want {
		got := resp.Results[i]
		if got.Line != w.line || got.ID != w.id || got.OK != w.ok || got.Status != w.status {
			t.Errorf("result %d = %+v, want line %d id %q ok %v status %d", i, got, w.line, w.id, w.ok, w.status)
		}
		if w.ok && got.Seq == 0 {
			t.Errorf("result %d is ok without a sequence", i)
		}
		if !w.ok && (!strings.Contains(got.Error, w.field) || got.Retry) {
			t.Errorf("result %d error = %q retry %v, want a final error naming %s", i, got.Error, got.Retry, w.field)
		}
	}
	if resp.Stored != 2 || resp.Rejected != 3 || resp.Failed != 0 {
		t.Errorf("counts stored %d rejected %d failed %d, want 2, 3, 0", resp.Stored, resp.Rejected, resp.Failed)
	}
	if ids := f.storedIDs(); !slices.Equal(ids, []string{"ok1", "ok2"}) {
		t.Errorf("stream holds %v, want [ok1 ok2]", ids)
	}
}

func TestEventsRepeatedRequest(t *testing.T) {
	f := newFixture(t, events.StreamOptions{}, nil)
	line := eventLine(t, "once", time.Now())
	_, first := f.postEvents("", line)
	_, second := f.postEvents("", line)
	if !second.Results[0].OK || !second.Results[0].Duplicate || second.Results[0].Seq != first.Results[0].Seq {
		t.Errorf("second send = %+v, want ok duplicate with seq %d", second.Results[0], first.Results[0].Seq)
	}
	if ids := f.storedIDs(); len(ids) != 1 {
		t.Errorf("stream holds %v, want one event", ids)
	}
}

func TestEventsRequestLimits(t *testing.T) {
	f := newFixture(t, events.StreamOptions{}, func(c *ingest.Config) {
		c.MaxRequestBytes = 2000
		c.MaxEvents = 3
	})
	now := time.Now()
	cases := []struct {
		name  string
		lines []string
		want  string
	}{
		{"body too large", []string{eventLine(t, "a", now), strings.Repeat(" ", 2000)}, "exceeds the limit of 2000 bytes"},
		{"too many events", []string{eventLine(t, "a", now), eventLine(t, "b", now), eventLine(t, "c", now), eventLine(t, "d", now)}, "more than the limit of 3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.do(http.MethodPost, "/v1/events", strings.NewReader(strings.Join(tc.lines, "\n")))
			if status != http.StatusRequestEntityTooLarge {
				t.Fatalf("status = %d, want 413: %s", status, body)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(body, &e); err != nil || !strings.Contains(e.Error, tc.want) {
				t.Errorf("error body %s, want a message with %q", body, tc.want)
			}
		})
	}
	if ids := f.storedIDs(); len(ids) != 0 {
		t.Errorf("stream holds %v after rejected requests, want nothing", ids)
	}
}

func TestEventsRecheckAfterDuplicateWindow(t *testing.T) {
	const window = 200 * time.Millisecond
	f := newFixture(t, events.StreamOptions{Duplicates: window}, nil)
	now := time.Now().UTC()
	checked, unchecked := eventLine(t, "checked", now), eventLine(t, "unchecked", now)
	_, first := f.postEvents("", checked, unchecked)
	time.Sleep(3 * window)

	_, again := f.postEvents("?recheck=1", checked, eventLine(t, "fresh", now))
	if r := again.Results[0]; !r.OK || !r.Duplicate || r.Seq != first.Results[0].Seq {
		t.Errorf("rechecked resend = %+v, want a duplicate of seq %d", r, first.Results[0].Seq)
	}
	if r := again.Results[1]; !r.OK || r.Duplicate {
		t.Errorf("new event in a rechecked request = %+v, want stored", r)
	}
	// Without the recheck, the expired window lets the copy in: this shows
	// that the window had passed when the recheck ran.
	_, plain := f.postEvents("", unchecked)
	if r := plain.Results[0]; !r.OK || r.Duplicate {
		t.Fatalf("resend without recheck = %+v, want stored again", r)
	}

	ids := f.storedIDs()
	count := func(id string) int {
		n := 0
		for _, got := range ids {
			if got == id {
				n++
			}
		}
		return n
	}
	if count("checked") != 1 || count("fresh") != 1 || count("unchecked") != 2 {
		t.Errorf("stream holds %v, want checked and fresh once and unchecked twice", ids)
	}
}

func TestEventsPublishFailure(t *testing.T) {
	f := newFixture(t, events.StreamOptions{}, func(c *ingest.Config) {
		c.PublishTimeout = 2 * time.Second
	})
	f.nats.Shutdown()
	f.nats.WaitForShutdown()

	status, resp := f.postEvents("", eventLine(t, "lost", time.Now()), `{"broken"`)
	if status != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", status)
	}
	if r := resp.Results[0]; r.OK || !r.Retry || r.Status != 503 {
		t.Errorf("event while NATS is down = %+v, want a failure to retry with status 503", r)
	}
	if r := resp.Results[1]; r.Retry || r.Status != 400 {
		t.Errorf("malformed event while NATS is down = %+v, want a final 400", r)
	}
	if resp.Failed != 1 || resp.Rejected != 1 {
		t.Errorf("failed %d rejected %d, want 1 and 1", resp.Failed, resp.Rejected)
	}
}

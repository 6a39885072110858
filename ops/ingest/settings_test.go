package ingest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/settings"
)

func (f *fixture) getSettings(query string) settings.Settings {
	f.t.Helper()
	status, body := f.do(http.MethodGet, "/v1/settings"+query, nil)
	if status != http.StatusOK {
		f.t.Fatalf("GET /v1/settings%s = %d %s", query, status, body)
	}
	var s settings.Settings
	if err := json.Unmarshal(body, &s); err != nil {
		f.t.Fatal(err)
	}
	return s
}

func TestSettingsEndpoint(t *testing.T) {
	f := newFixture(t, events.StreamOptions{}, nil)
	initial := f.getSettings("?wait=5s")
	if initial.EnforceClientIDs {
		t.Fatalf("initial settings = %+v, want enforce off", initial)
	}

	got := make(chan settings.Settings, 1)
	go func() { got <- f.getSettings("?after=0&wait=10s") }()
	time.Sleep(200 * time.Millisecond)
	if _, err := f.store.Set(context.Background(), settings.EnforceClientIDs, "true"); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if !s.EnforceClientIDs || s.Revision == 0 {
			t.Errorf("settings after the change = %+v, want enforce on with a revision", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long poll of the settings did not return within 5s of the change")
	}

	now := f.getSettings("")
	start := time.Now()
	same := f.getSettings("?after=" + jsonNumber(now.Revision) + "&wait=300ms")
	if same != now || time.Since(start) < 250*time.Millisecond {
		t.Errorf("poll without a change = %+v after %v, want %+v after the full wait", same, time.Since(start), now)
	}
}

func jsonNumber(n uint64) string {
	data, _ := json.Marshal(n)
	return string(data)
}

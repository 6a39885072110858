package e2e

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// metricValue returns the value of one series of clientele's /metrics,
// named as the exposition prints it.
func metricValue(t *testing.T, s *serveProcess, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("/metrics has no series %s", series)
	return 0
}

// TestXMPPRequestMetrics checks that list and revoke requests through
// Prosody count under the xmpp transport, by outcome.
func TestXMPPRequestMetrics(t *testing.T) {
	p := StartProsody(t, Options{})
	s := startClientele(t, p)
	seedAccounts(t, s)
	alice := p.User("alice")

	list := waitList(t, alice, NSCAM, "")
	conv, ok := bySoftware(list.Clients, "Conversations")
	if !ok {
		t.Fatalf("alice's list lacks Conversations: %s", list)
	}
	gajim, _ := bySoftware(list.Clients, "Gajim")
	out := RunClient(t, context.Background(), alice, Revoke(NSCAM, "", conv.ID), Revoke(NSCAM, "", gajim.ID), Revoke(NSCAM, "", "client/unknown"))
	if !out[0].OK() {
		t.Fatalf("revoke of Conversations: %s", out[0])
	}

	lists := metricValue(t, s, `clientele_query_requests_total{op="list",outcome="ok",transport="xmpp"}`)
	if lists < 1 {
		t.Errorf("xmpp list requests with outcome ok = %v, want at least 1", lists)
	}
	if got := metricValue(t, s, `clientele_query_requests_total{op="revoke",outcome="ok",transport="xmpp"}`); got != 2 {
		t.Errorf("xmpp revoke requests with outcome ok = %v, want 2: Conversations and the password client Gajim", got)
	}
	if got := metricValue(t, s, `clientele_query_requests_total{op="revoke",outcome="not_found",transport="xmpp"}`); got != 1 {
		t.Errorf("xmpp revoke requests with outcome not_found = %v, want 1", got)
	}
	if got := metricValue(t, s, `clientele_query_duration_seconds_count{op="revoke",transport="xmpp"}`); got != 3 {
		t.Errorf("xmpp revoke latency observations = %v, want 3", got)
	}
	if got := metricValue(t, s, `clientele_revocations_total{outcome="password_reset_required"}`); got != 1 {
		t.Errorf("revocations with outcome password_reset_required = %v, want 1", got)
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
)

// replayEvents is the stream length of the replay test. The variable
// CLIENTELE_TEST_REPLAY_EVENTS sets another one, such as 2000000 for a
// replay of a large deployment.
const replayEvents = 200_000

func replayEventCount(t *testing.T) int {
	t.Helper()
	v := os.Getenv("CLIENTELE_TEST_REPLAY_EVENTS")
	if v == "" {
		return replayEvents
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1000 {
		t.Fatalf("CLIENTELE_TEST_REPLAY_EVENTS=%q: expected a whole number of at least 1000", v)
	}
	return n
}

// publishHeartbeats fills the event stream with n small node events.
func publishHeartbeats(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	start := time.Now()
	at := start.UTC().Add(-time.Hour)
	pub := events.NewPublisher(js, events.PublisherOptions{})
	const batch = 20_000
	for from := 0; from < n; from += batch {
		evs := make([]*events.Event, 0, batch)
		for i := from; i < min(from+batch, n); i++ {
			evs = append(evs, &events.Event{
				ID: fmt.Sprintf("replay-%07d", i), Type: events.NodeHeartbeat, V: events.Version,
				Time: at.Add(time.Duration(i) * time.Millisecond), Node: fmt.Sprintf("xmpp-%d", i%3+1),
			})
		}
		results, err := pub.PublishBatch(context.Background(), evs)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range results {
			if r.Err != nil {
				t.Fatalf("event %d: %v", from+i, r.Err)
			}
		}
	}
	t.Logf("published %d events in %s", n, time.Since(start).Round(time.Millisecond))
}

var replayProgress = regexp.MustCompile(`applied (\d+) of (\d+)`)

// TestReadyzDuringReplay starts serve on a stream that already holds many
// events, and checks that /readyz returns 503 while the projector replays
// them and 200 once it has caught up, and that clientele_ready agrees.
func TestReadyzDuringReplay(t *testing.T) {
	natsURL, js := startNATS(t)
	total := replayEventCount(t)
	publishHeartbeats(t, js, total)

	httpAddr := freeAddr(t)
	logs := &lockedBuffer{}
	env := &environment{stdin: strings.NewReader(""), stdout: io.Discard, stderr: logs, lookupEnv: func(string) (string, bool) { return "", false }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, env, []string{"serve", "--nats-url", natsURL, "--http-listen", httpAddr, "--data-dir", t.TempDir()})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("serve exited with %d", code)
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", logs.String())
		}
	})

	midReplay := false
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatal("serve not ready two minutes after start")
		}
		code, body, err := httpGet("http://" + httpAddr + "/readyz")
		if err != nil {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		if code == http.StatusOK {
			break
		}
		if code != http.StatusServiceUnavailable {
			t.Fatalf("GET /readyz = %d %q, want 503 or 200", code, body)
		}
		m := replayProgress.FindStringSubmatch(body)
		if m == nil || midReplay {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		applied, _ := strconv.Atoi(m[1])
		target, _ := strconv.Atoi(m[2])
		if applied > 0 && applied < target {
			midReplay = true
			if target != total {
				t.Errorf("/readyz waits for sequence %d, want %d", target, total)
			}
			if v, ok := seriesValue(scrape(t, httpAddr), "clientele_ready"); !ok || v != 0 {
				t.Errorf("/metrics during the replay: clientele_ready = %g (present %t), want 0", v, ok)
			}
		}
	}
	if !midReplay {
		t.Errorf("/readyz never answered 503 with a partial replay of %d events", total)
	}

	metrics := scrape(t, httpAddr)
	for series, want := range map[string]float64{
		"clientele_ready":                                       1,
		"clientele_projector_applied_sequence":                  float64(total),
		`clientele_events_applied_total{type="node.heartbeat"}`: float64(total),
	} {
		if got, ok := seriesValue(metrics, series); !ok || got != want {
			t.Errorf("/metrics after the replay: %s = %g (present %t), want %g", series, got, ok, want)
		}
	}
}

func httpGet(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// scrape returns the text exposition of serve's /metrics.
func scrape(t *testing.T, httpAddr string) string {
	t.Helper()
	code, body, err := httpGet("http://" + httpAddr + "/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /metrics = %d, %v", code, err)
	}
	return body
}

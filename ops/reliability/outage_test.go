package reliability_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/query"
)

// TestNATSRestartUnderServe runs serve against its own nats-server and
// takes the server away under it, by SIGKILL and by SIGTERM in turn, for
// longer than serve's first reconnect attempts, starting it again on the
// same port and store each time. While NATS is down, serve is not ready and
// a node's publishes fail within their retries. Afterwards serve, still the
// same process, is ready again, and its views of events published before,
// during and after the outage equal a fresh replay of the stream.
func TestNATSRestartUnderServe(t *testing.T) {
	outages := 2
	if longRun() {
		outages = 10
	}
	ns := newNATSServer(t, "nats", clusterPeer{}, nil)
	ns.start()
	ns.waitHealthy()
	srv := newServe(t, "serve", "--nats-url", ns.url(), "--snapshot-interval", "1s")
	srv.startReady()
	pid := srv.pid()

	ctx := context.Background()
	nc, js := connect(t, ns.url())
	qc := query.NewClient(nc)
	const domain = "outage.test"
	users := userNames(20, domain)
	tr := newTracker(js, newGenerator(t, 13, 3, len(users), domain),
		events.PublisherOptions{Retries: 1, Backoff: 20 * time.Millisecond, AckTimeout: 500 * time.Millisecond})
	m := newMirror()
	publishAndCompare(t, ctx, tr, js, qc, m, users, 500)

	for round := range outages {
		offset := srv.logSize()
		signal := "SIGKILL"
		if round%2 == 0 {
			ns.kill()
		} else {
			signal = "SIGTERM"
			if err := ns.stop(); err != nil {
				t.Errorf("nats-server after SIGTERM: %v", err)
			}
		}
		waitNotReady(t, srv)
		start := time.Now()
		if acked, _ := tr.step(ctx, 100); acked != 0 {
			t.Errorf("outage %d (%s): %d events acknowledged while NATS was down", round+1, signal, acked)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("outage %d (%s): a publish with NATS down took %s to fail", round+1, signal, took)
		}
		time.Sleep(time.Second)

		ns.start()
		ns.waitHealthy()
		srv.waitReady()
		publishAndCompare(t, ctx, tr, js, qc, m, users, 500)
		if !srv.running() || srv.pid() != pid {
			t.Fatalf("outage %d (%s): serve restarted (pid %d, was %d)", round+1, signal, srv.pid(), pid)
		}
		reconnected := false
		for _, r := range logRecords(srv.logSince(offset)) {
			reconnected = reconnected || r.Msg == "nats reconnected"
		}
		if !reconnected {
			t.Errorf("outage %d (%s): serve did not log a reconnect", round+1, signal)
		}
	}
	lost, _ := tr.check(m)
	for _, id := range lost {
		t.Errorf("acknowledged event lost: %s", id)
	}
	t.Logf("NATS restarts under serve: %d outages, %d events generated, %d acknowledged, %d failed publishes retried, %d lost",
		outages, tr.generated, len(tr.acked), tr.failures, len(lost))
}

// publishAndCompare publishes n new events and every event that waits for
// a retry, then compares the service's views with the replay.
func publishAndCompare(t *testing.T, ctx context.Context, tr *tracker, js jetstream.JetStream, qc *query.Client, m *mirror, users []string, n int) {
	t.Helper()
	if _, err := tr.step(ctx, n); err != nil {
		t.Fatal(err)
	}
	drainCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := tr.drain(drainCtx); err != nil {
		t.Fatal(err)
	}
	divergent, err := compareAfterCatchUp(ctx, js, qc, m, users)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range divergent {
		t.Errorf("views differ from a replay for %s", d)
	}
}

// waitNotReady waits until serve's /readyz stops returning 200.
func waitNotReady(t *testing.T, srv *serveProcess) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for httpStatus(srv.readyURL()) == http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("serve still ready 15s after NATS went away")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

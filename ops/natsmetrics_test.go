package ops

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/clientele-xmpp/clientele/ops/natstest"
)

// natsStateText is the exposition of the connection state and reconnects.
func natsStateText(connected, reconnects int) string {
	return fmt.Sprintf(`
# HELP clientele_nats_connected 1 while the NATS connection is connected, 0 while it connects, reconnects, drains or is closed.
# TYPE clientele_nats_connected gauge
clientele_nats_connected %d
# HELP clientele_nats_reconnects_total Times the NATS connection reconnected after losing its server.
# TYPE clientele_nats_reconnects_total counter
clientele_nats_reconnects_total %d
`, connected, reconnects)
}

// waitNATSState polls the registry until the state and reconnects match.
func waitNATSState(t *testing.T, reg *prometheus.Registry, connected, reconnects int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := testutil.GatherAndCompare(reg, strings.NewReader(natsStateText(connected, reconnects)),
			"clientele_nats_connected", "clientele_nats_reconnects_total")
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("NATS metrics after 10s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNATSMetricsFollowConnection(t *testing.T) {
	dir, port := t.TempDir(), freePort(t)
	srv := natstest.StartIn(t, dir, port)
	reg := prometheus.NewRegistry()
	m := NewNATSMetrics(reg)
	waitNATSState(t, reg, 0, 0)

	nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	m.Watch(nc)
	waitNATSState(t, reg, 1, 0)

	if err := nc.Publish("clientele.test", []byte("12345")); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	traffic := `
# HELP clientele_nats_sent_bytes_total Payload bytes sent on the NATS connection.
# TYPE clientele_nats_sent_bytes_total counter
clientele_nats_sent_bytes_total 5
# HELP clientele_nats_sent_messages_total Messages sent on the NATS connection.
# TYPE clientele_nats_sent_messages_total counter
clientele_nats_sent_messages_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(traffic), "clientele_nats_sent_bytes_total", "clientele_nats_sent_messages_total"); err != nil {
		t.Error(err)
	}

	srv.Shutdown()
	srv.WaitForShutdown()
	waitNATSState(t, reg, 0, 0)
	natstest.StartIn(t, dir, port)
	waitNATSState(t, reg, 1, 1)

	nc.Close()
	waitNATSState(t, reg, 0, 1)
	m.Watch(nil)
	waitNATSState(t, reg, 0, 0)
}

func TestNATSMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewNATSMetrics(reg)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 6 {
		t.Errorf("gathered %d series (error %v), want 6", n, err)
	}
}

package reliability_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// noHeartbeatTimeout is the --heartbeat-timeout of the tested services:
// a century, so that views of the simulated past do not depend on the
// wall clock at which a test reads them.
const noHeartbeatTimeout = 100 * 365 * 24 * time.Hour

// readyTimeout bounds the start of a serve, which includes the recovery
// of the JetStream store after a SIGKILL and the replay of the stream.
const readyTimeout = 60 * time.Second

// serveProcess is a `clientele serve` subprocess.
type serveProcess struct {
	*process
	httpAddr string
}

// newServe returns a serve with its HTTP server on a free port and the
// given flags, not started yet. It logs JSON at info level.
func newServe(t *testing.T, name string, flags ...string) *serveProcess {
	t.Helper()
	httpAddr := loopback(freePort(t))
	args := append([]string{"serve", "--http-listen", httpAddr, "--log-format", "json", "--log-level", "info",
		"--heartbeat-timeout", noHeartbeatTimeout.String()}, flags...)
	return &serveProcess{process: newProcess(t, name, buildBinaries(t).clientele, args...), httpAddr: httpAddr}
}

// startReady starts s and waits until /readyz returns 200: NATS connected
// and the projector caught up with the stream.
func (s *serveProcess) startReady() {
	s.t.Helper()
	s.start()
	s.waitReady()
}

func (s *serveProcess) waitReady() {
	s.t.Helper()
	s.waitHTTP(s.readyURL(), readyTimeout)
}

func (s *serveProcess) readyURL() string {
	return "http://" + s.httpAddr + "/readyz"
}

// natsServer is a nats-server subprocess with JetStream, alone or in a
// cluster.
type natsServer struct {
	*process
	name        string
	port        int
	monitorPort int
	storeDir    string
}

// clusterPeer is the route address of one server of a cluster.
type clusterPeer struct {
	name string
	port int
}

// newNATSServer writes the configuration of a nats-server named name that
// listens on free loopback ports with its store in a temporary folder. With
// peers, it joins the cluster whose route ports they list; self is its own
// entry there.
func newNATSServer(t *testing.T, name string, self clusterPeer, peers []clusterPeer) *natsServer {
	t.Helper()
	dir := t.TempDir()
	n := &natsServer{name: name, port: freePort(t), monitorPort: freePort(t), storeDir: filepath.Join(dir, "store")}

	var conf strings.Builder
	fmt.Fprintf(&conf, "server_name: %q\nlisten: %q\nhttp: %q\n", name, loopback(n.port), loopback(n.monitorPort))
	fmt.Fprintf(&conf, "jetstream {\n  store_dir: %q\n}\n", n.storeDir)
	if len(peers) > 0 {
		var routes []string
		for _, p := range peers {
			if p.name != name {
				routes = append(routes, fmt.Sprintf("%q", "nats://"+loopback(p.port)))
			}
		}
		fmt.Fprintf(&conf, "cluster {\n  name: \"reliability\"\n  listen: %q\n  routes: [%s]\n}\n", loopback(self.port), strings.Join(routes, ", "))
	}
	confPath := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	n.process = newProcess(t, name, buildBinaries(t).natsServer, "--config", confPath)
	return n
}

func (n *natsServer) url() string {
	return "nats://" + loopback(n.port)
}

// waitHealthy waits until the server's /healthz returns 200, which with
// JetStream means that it is in contact with the meta leader and current.
func (n *natsServer) waitHealthy() {
	n.t.Helper()
	n.waitHTTP(fmt.Sprintf("http://%s/healthz", loopback(n.monitorPort)), readyTimeout)
}

// connect opens a test connection that reconnects forever and quickly, and
// closes it when the test ends.
func connect(t *testing.T, urls string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(urls, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
		nats.RetryOnFailedConnect(true), nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// eventually retries f every 50ms until it returns nil or timeout passes,
// and returns its last error. Each call of f gets at most five seconds, so
// that a request lost with a killed server does not use up the timeout.
func eventually(ctx context.Context, timeout time.Duration, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 5*time.Second)
		err := f(attempt)
		cancelAttempt()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w", timeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

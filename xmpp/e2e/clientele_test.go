package e2e

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/query"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// TestMain removes the clientele binary that the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// clienteleBinary builds cmd/clientele once per test run.
func clienteleBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "clientele-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "clientele")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/clientele")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = &buildError{err: err, output: string(out)}
		}
	})
	if buildErr != nil {
		t.Fatalf("build clientele: %v", buildErr)
	}
	return binPath
}

type buildError struct {
	err    error
	output string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.output }

// serveProcess is a `clientele serve` subprocess connected to a Prosody.
type serveProcess struct {
	t        *testing.T
	args     []string
	httpAddr string
	natsURL  string
	cmd      *exec.Cmd
	log      *bytes.Buffer
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startClientele runs `clientele serve` with its own data directory and
// ports, the XMPP component connected to p, and the extra flags.
func startClientele(t *testing.T, p *Prosody, extra ...string) *serveProcess {
	t.Helper()
	natsAddr, httpAddr := freeLoopbackAddr(t), freeLoopbackAddr(t)
	s := &serveProcess{
		t: t, httpAddr: httpAddr, natsURL: "nats://" + natsAddr,
		args: []string{"serve", "--data-dir", t.TempDir(), "--nats-listen", natsAddr, "--http-listen", httpAddr,
			"--xmpp-component", p.ComponentAddr, "--xmpp-jid", p.ComponentJID,
			"--xmpp-secret-file", p.ComponentSecretFile, "--xmpp-domain", p.Domain, "--log-level", "debug"},
		log: &bytes.Buffer{},
	}
	s.args = append(s.args, extra...)
	s.start()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("clientele log:\n%s", s.log.String())
		}
	})
	return s
}

func (s *serveProcess) start() {
	s.t.Helper()
	s.cmd = exec.Command(clienteleBinary(s.t), s.args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start clientele: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("clientele not ready after 30s\n%s", s.log.String())
}

// stop ends the process with SIGTERM, as an operator would.
func (s *serveProcess) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			s.t.Errorf("clientele exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
		s.t.Error("clientele did not stop within 30s of SIGTERM")
	}
	s.cmd = nil
}

func (s *serveProcess) restart() {
	s.stop()
	s.start()
}

// connect returns a NATS connection and JetStream context to clientele's
// embedded server.
func (s *serveProcess) connect() (*nats.Conn, jetstream.JetStream) {
	s.t.Helper()
	nc, err := nats.Connect(s.natsURL)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		s.t.Fatal(err)
	}
	return nc, js
}

// publish appends evs and waits until the query service lists the newest
// state, so that XMPP requests after it see them.
func publish(t *testing.T, js jetstream.JetStream, nc *nats.Conn, evs ...*events.Event) {
	t.Helper()
	pub := events.NewPublisher(js, events.PublisherOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var seq uint64
	for _, e := range evs {
		s, err := pub.Publish(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		seq = max(seq, s)
	}
	if _, err := query.NewClient(nc).List(ctx, query.ListRequest{User: evs[0].User, MinSeq: seq}); err != nil {
		t.Fatal(err)
	}
}

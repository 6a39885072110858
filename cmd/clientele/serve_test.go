package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/projector"
)

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of a serve.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServe runs `clientele serve` in process on free loopback ports until
// the test ends, and returns the NATS URL and the HTTP address.
func startServe(t *testing.T, extra ...string) (natsURL, httpAddr string) {
	t.Helper()
	natsAddr, httpAddr := freeAddr(t), freeAddr(t)
	logs := &lockedBuffer{}
	env := &environment{stdin: strings.NewReader(""), stdout: io.Discard, stderr: logs, lookupEnv: func(string) (string, bool) { return "", false }}
	args := append([]string{"serve", "--data-dir", t.TempDir(), "--nats-listen", natsAddr, "--http-listen", httpAddr, "--log-level", "debug"}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, env, args) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("serve exited with %d", code)
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", logs.String())
		}
	})
	waitReady(t, httpAddr, done)
	return "nats://" + natsAddr, httpAddr
}

func waitReady(t *testing.T, httpAddr string, done chan int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case code := <-done:
			done <- code
			t.Fatalf("serve exited with %d before it was ready", code)
		default:
		}
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("serve not ready after 20s")
}

func TestQuickStart(t *testing.T) {
	natsURL, httpAddr := startServe(t)
	vars := map[string]string{"CLIENTELE_NATS_URL": natsURL}

	code, stdout, stderr := runCLI(t, "", vars, "simulate", "--users", "5", "--events", "600", "--seed", "7", "--quiet")
	if code != exitOK {
		t.Fatalf("simulate exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "published 600 events") {
		t.Errorf("simulate output = %q", stdout)
	}

	user, victim := pickRevocable(t, vars)
	code, stdout, stderr = runCLI(t, "", vars, "revoke", user, victim.ID)
	if code != exitOK {
		t.Fatalf("revoke exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "revoked "+victim.ID) {
		t.Errorf("revoke output = %q", stdout)
	}
	for _, c := range listJSON(t, vars, user) {
		if c.ID == victim.ID {
			t.Errorf("%s still listed right after its revoke: %+v", victim.ID, c)
		}
	}

	code, stdout, _ = runCLI(t, "", vars, "clients", user)
	if code != exitOK || !strings.Contains(stdout, "ID  ") || !strings.Contains(stdout, " of "+user) {
		t.Errorf("clients table: exit %d\n%s", code, stdout)
	}

	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `clientele_events_applied_total{type="session.bound"}`) {
		t.Errorf("/metrics lacks applied session.bound events")
	}
}

// pickRevocable returns a simulated user and one of their clients that
// holds no password access, so that a revoke removes it from the list.
func pickRevocable(t *testing.T, vars map[string]string) (string, projector.ClientView) {
	t.Helper()
	for i := 1; i <= 5; i++ {
		user := fmt.Sprintf("user%d@example.test", i)
		for _, c := range listJSON(t, vars, user) {
			if !slices.Contains(c.Auth, projector.AuthPassword) {
				return user, c
			}
		}
	}
	t.Fatal("no simulated client without password access")
	return "", projector.ClientView{}
}

func listJSON(t *testing.T, vars map[string]string, user string) []projector.ClientView {
	t.Helper()
	code, stdout, stderr := runCLI(t, "", vars, "clients", "--json", user)
	if code != exitOK {
		t.Fatalf("clients exit %d: %s", code, stderr)
	}
	var out clientsJSON
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("clients --json: %v\n%s", err, stdout)
	}
	if out.User != user {
		t.Errorf("clients --json user = %q, want %q", out.User, user)
	}
	return out.Clients
}

func TestRevokePasswordClientExitsNonZero(t *testing.T) {
	natsURL, _ := startServe(t)
	vars := map[string]string{"CLIENTELE_NATS_URL": natsURL}
	in := `{"id":"q1","type":"auth.password","v":1,"time":"2026-12-04T10:00:00Z","node":"xmpp-1","user":"dave@example.test","client":{"id":"c1","software":"Gajim"},"session":{"id":"s1"}}` + "\n"
	if code, _, stderr := runCLI(t, in, vars, "publish"); code != exitOK {
		t.Fatalf("publish exit %d: %s", code, stderr)
	}
	var clients []projector.ClientView
	for deadline := time.Now().Add(5 * time.Second); len(clients) == 0 && time.Now().Before(deadline); {
		clients = listJSON(t, vars, "dave@example.test")
	}
	if len(clients) != 1 {
		t.Fatalf("dave has %d clients, want 1", len(clients))
	}
	code, _, stderr := runCLI(t, "", vars, "revoke", "dave@example.test", clients[0].ID)
	if code != exitFailure || !strings.Contains(stderr, "change the password") {
		t.Errorf("revoke of a password client: exit %d, stderr %q", code, stderr)
	}
}

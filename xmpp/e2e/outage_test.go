package e2e

import (
	"net/http"
	"testing"
	"time"
)

// TestComponentSurvivesProsodyOutage kills Prosody with SIGKILL under a
// running clientele and keeps it down for longer than the component's
// first redials. While Prosody is down, the query service on NATS still
// lists alice's clients. After Prosody is back, the same clientele process
// serves alice over XMPP again, within the 30 seconds of waitList.
// TestClientAccessThroughProsody covers a restart with SIGTERM.
func TestComponentSurvivesProsodyOutage(t *testing.T) {
	p := StartProsody(t, Options{})
	s := startClientele(t, p)
	nc := seedAccounts(t, s)
	alice := p.User("alice")
	if out := waitList(t, alice, NSCAM, ""); len(out.Clients) != 3 {
		t.Fatalf("before the outage alice has %d clients over XMPP, want 3: %s", len(out.Clients), out)
	}
	pid := s.cmd.Process.Pid

	outages := []struct {
		name string
		stop func()
	}{
		{"SIGKILL", p.Kill},
	}
	for _, o := range outages {
		t.Run(o.name, func(t *testing.T) {
			o.stop()
			time.Sleep(3 * time.Second)
			if reply := serviceList(t, nc, "alice@example.test"); len(reply.Clients) != 3 {
				t.Errorf("with Prosody down the query service lists %d clients for alice, want 3", len(reply.Clients))
			}

			p.Start()
			start := time.Now()
			out := waitList(t, alice, NSCAM, "")
			if len(out.Clients) != 3 {
				t.Errorf("after Prosody returned alice has %d clients over XMPP, want 3: %s", len(out.Clients), out)
			}
			t.Logf("XMPP requests served again %s after Prosody returned", time.Since(start).Round(time.Millisecond))
			if s.cmd == nil || s.cmd.Process.Pid != pid {
				t.Errorf("clientele was restarted during the Prosody outage")
			}
			resp, err := http.Get("http://" + s.httpAddr + "/readyz")
			if err != nil {
				t.Fatalf("clientele stopped answering during the Prosody outage: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("clientele /readyz = %d after the Prosody outage, want 200", resp.StatusCode)
			}
		})
	}
}

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const publishInput = `{"id":"p1","type":"auth.password","v":1,"time":"2026-12-04T10:00:00.1Z","node":"xmpp-1","user":"alice@example.test","client":{"id":"c1","software":"Gajim"},"session":{"id":"s1"}}
not json at all
{"id":"p2","type":"session.bound","v":1,"time":"2026-12-04T10:00:01Z","node":"xmpp-1","user":"alice@example.test","session":{"id":"s1","resource":"r"}}

{"id":"p3","type":"session.bound","v":1,"time":"2026-12-04T10:00:01Z","node":"xmpp-1","user":"alice@example.test/phone","session":{"id":"s2","resource":"r"}}
{"id":"p4","type":"grant.used","v":1,"time":"2026-12-04T10:00:05Z","node":"auth-1","user":"alice@example.test","grant":{"id":"g1"}}
`

func TestPublishRejectsBadLinesOnce(t *testing.T) {
	url, js := startNATS(t)
	file := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(file, []byte(publishInput), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"CLIENTELE_NATS_URL": url}

	for run := 1; run <= 2; run++ {
		code, _, stderr := runCLI(t, "", vars, "publish", file)
		if code != exitFailure {
			t.Errorf("run %d: exit %d, want %d", run, code, exitFailure)
		}
		for _, want := range []string{"line 2: events: malformed event", `line 5: events: invalid event: field "user"`} {
			if !strings.Contains(stderr, want) {
				t.Errorf("run %d: stderr lacks %q:\n%s", run, want, stderr)
			}
		}
		if strings.Contains(stderr, "line 1:") || strings.Contains(stderr, "line 3:") || strings.Contains(stderr, "line 4:") {
			t.Errorf("run %d: stderr reports a good line:\n%s", run, stderr)
		}
	}

	stream, err := js.Stream(context.Background(), "CLIENTELE_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Errorf("stream holds %d events after two runs, want the 3 good ones once", info.State.Msgs)
	}
}

func TestPublishFromStdin(t *testing.T) {
	url, _ := startNATS(t)
	good := strings.SplitN(publishInput, "\n", 2)[0] + "\n"
	code, _, stderr := runCLI(t, good, map[string]string{"NATS_URL": url}, "publish", "-")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "published 1 events") {
		t.Errorf("stderr = %q", stderr)
	}
}

func TestPublishOverlongLine(t *testing.T) {
	url, _ := startNATS(t)
	long := `{"id":"` + strings.Repeat("x", 70000) + "\"}\n" + strings.SplitN(publishInput, "\n", 2)[0] + "\n"
	code, _, stderr := runCLI(t, long, map[string]string{"NATS_URL": url}, "publish")
	if code != exitFailure || !strings.Contains(stderr, "line 1: line longer than") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stderr, "published 1 events") {
		t.Errorf("the good line after an overlong one was not published: %q", stderr)
	}
}

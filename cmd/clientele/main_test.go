package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/natstest"
)

// runCLI runs the clientele command line with args and the environment
// variables in vars, and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, stdin string, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &environment{
		stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut,
		lookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
	}
	code := run(context.Background(), env, args)
	return code, out.String(), errOut.String()
}

// startNATS runs an in-process NATS with the clientele streams and returns
// its URL and JetStream context.
func startNATS(t *testing.T) (string, jetstream.JetStream) {
	t.Helper()
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	if err := events.EnsureStreams(context.Background(), js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	return srv.ClientURL(), js
}

func TestUnknownCommand(t *testing.T) {
	code, _, stderr := runCLI(t, "", nil, "frobnicate")
	if code != exitUsage || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestHelpListsCommands(t *testing.T) {
	code, stdout, _ := runCLI(t, "", nil, "help")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, c := range []string{"serve", "publish", "clients", "revoke", "simulate", "version"} {
		if !strings.Contains(stdout, "  "+c+" ") {
			t.Errorf("help does not list %s:\n%s", c, stdout)
		}
	}
}

func TestCommandHelpOnStdout(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", nil, "serve", "--help")
	if code != exitOK {
		t.Errorf("serve --help: exit %d, want %d", code, exitOK)
	}
	if !strings.Contains(stdout, "Usage: clientele serve") {
		t.Errorf("serve --help: stdout %q, want the usage line", stdout)
	}
	if !strings.Contains(stdout, "-data-dir") {
		t.Errorf("serve --help: stdout %q, want the flags", stdout)
	}
	if stderr != "" {
		t.Errorf("serve --help: stderr %q, want nothing", stderr)
	}
}

// TestHelpNamesEveryVariable checks that the help of every command names
// the CLIENTELE_* variable of each flag that one can set.
func TestHelpNamesEveryVariable(t *testing.T) {
	for _, c := range commands {
		_, stdout, _ := runCLI(t, "", nil, c.name, "--help")
		lines := strings.Split(stdout, "\n")
		for i, line := range lines {
			flagName, ok := strings.CutPrefix(line, "  -")
			if !ok || i+1 >= len(lines) {
				continue
			}
			flagName, _, _ = strings.Cut(flagName, " ")
			if flagName == "yes" {
				continue
			}
			if !strings.Contains(lines[i+1], "(env CLIENTELE_") {
				t.Errorf("%s --help: flag -%s names no variable: %q", c.name, flagName, lines[i+1])
			}
		}
	}
}

func TestWrongArgumentCount(t *testing.T) {
	code, _, stderr := runCLI(t, "", nil, "revoke", "alice@example.test")
	if code != exitUsage || !strings.Contains(stderr, "Usage: clientele revoke") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestForgetIgnoresYesVariable(t *testing.T) {
	code, _, stderr := runCLI(t, "", map[string]string{"CLIENTELE_YES": "true", "CLIENTELE_NATS_URL": "nats://127.0.0.1:1"}, "forget", "alice@example.test")
	if code != exitUsage || !strings.Contains(stderr, "run it again with --yes") {
		t.Errorf("forget with CLIENTELE_YES set: exit %d, stderr %q; want the confirmation request", code, stderr)
	}
}

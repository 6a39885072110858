package e2e

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pythonPath is the interpreter that Debian's python3-slixmpp installs for.
const pythonPath = "/usr/bin/python3"

// exitNotOnline is client.py's exit status when the login or the connection
// failed.
const exitNotOnline = 3

// defaultActionTimeout is how long client.py waits for each reply when
// ClientSpec.Timeout is zero.
const defaultActionTimeout = 10 * time.Second

//go:embed testdata/client.py
var clientScript []byte

// ClientSpec is how client.py logs in. Prosody.User returns one for a
// registered user.
type ClientSpec struct {
	// Addr is the client-to-server listener, "127.0.0.1:PORT".
	Addr string
	// JID is the bare JID to log in as.
	JID      string
	Password string
	// Resource is the resource to request; the server picks one when empty.
	Resource string
	// Timeout is how long to wait for each reply; 10 seconds when zero.
	Timeout time.Duration
}

// Transcript is everything one run of client.py printed.
type Transcript struct {
	Events   []Event
	Outcomes []Outcome
	// Stderr contains slixmpp's log messages and Python tracebacks.
	Stderr string
	// ExitCode is 0 after a clean run and 3 when the login or the
	// connection failed.
	ExitCode int
}

// Online returns the online event, and false when the client never logged in.
func (tr Transcript) Online() (Event, bool) {
	for _, ev := range tr.Events {
		if ev.Event == EventOnline {
			return ev, true
		}
	}
	return Event{}, false
}

// LoginFailed reports whether the server rejected the credentials.
func (tr Transcript) LoginFailed() bool {
	for _, ev := range tr.Events {
		if ev.Event == EventLoginFailed {
			return true
		}
	}
	return false
}

// ExecClient runs client.py once: it logs in, runs actions in order and
// disconnects. A failed login is not an error: the transcript records it.
// The error is non-nil when client.py could not run, printed invalid output,
// or ctx ended first.
func ExecClient(ctx context.Context, spec ClientSpec, actions ...Action) (Transcript, error) {
	if actions == nil {
		actions = []Action{}
	}
	encoded, err := json.Marshal(actions)
	if err != nil {
		return Transcript{}, fmt.Errorf("e2e: encode actions: %w", err)
	}

	cmd, cleanup, err := clientCommand(ctx, spec, false, string(encoded))
	if err != nil {
		return Transcript{}, err
	}
	defer cleanup()
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr

	runErr := cmd.Run()
	tr := Transcript{Stderr: stderr.String(), ExitCode: cmd.ProcessState.ExitCode()}
	if ctx.Err() != nil {
		return tr, fmt.Errorf("e2e: client %s: %w\n%s", spec.JID, ctx.Err(), tr.Stderr)
	}
	var exitErr *exec.ExitError
	if runErr != nil && !(errors.As(runErr, &exitErr) && tr.ExitCode == exitNotOnline) {
		return tr, fmt.Errorf("e2e: client %s: %w\n%s", spec.JID, runErr, tr.Stderr)
	}

	scanner := bufio.NewScanner(&stdout)
	scanner.Buffer(nil, 16<<20)
	for scanner.Scan() {
		ev, out, err := parseLine(scanner.Bytes())
		if err != nil {
			return tr, err
		}
		if ev != nil {
			tr.Events = append(tr.Events, *ev)
		} else {
			tr.Outcomes = append(tr.Outcomes, *out)
		}
	}
	return tr, scanner.Err()
}

// RunClient runs ExecClient and returns one outcome per action, in order.
// The test fails when the client cannot run or log in.
func RunClient(t testing.TB, ctx context.Context, spec ClientSpec, actions ...Action) []Outcome {
	t.Helper()
	tr, err := ExecClient(ctx, spec, actions...)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tr.Online(); !ok {
		t.Fatalf("e2e: client %s did not log in: %s\nstderr:\n%s", spec.JID, describeEvents(tr.Events), tr.Stderr)
	}
	if len(tr.Outcomes) != len(actions) {
		t.Fatalf("e2e: client %s: got %d outcomes for %d actions: %v\nstderr:\n%s",
			spec.JID, len(tr.Outcomes), len(actions), tr.Outcomes, tr.Stderr)
	}
	return tr.Outcomes
}

// clientCommand prepares a run of client.py. The caller runs cleanup after
// the process has exited, to remove the script's temporary copy.
func clientCommand(ctx context.Context, spec ClientSpec, hold bool, actions string) (*exec.Cmd, func(), error) {
	if err := checkPython(); err != nil {
		return nil, nil, err
	}
	if spec.Addr == "" || spec.JID == "" {
		return nil, nil, fmt.Errorf("e2e: client spec needs Addr and JID, got %+v", spec)
	}
	timeout := spec.Timeout
	if timeout == 0 {
		timeout = defaultActionTimeout
	}

	script, err := os.CreateTemp("", "e2e-client-*.py")
	if err != nil {
		return nil, nil, fmt.Errorf("e2e: write client script: %w", err)
	}
	cleanup := func() { os.Remove(script.Name()) }
	_, err = script.Write(clientScript)
	if closeErr := script.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("e2e: write client script: %w", err)
	}

	args := []string{
		script.Name(),
		"--addr", spec.Addr,
		"--jid", spec.JID,
		"--resource", spec.Resource,
		"--timeout", strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64),
	}
	if hold {
		args = append(args, "--hold")
	}
	args = append(args, actions)

	cmd := exec.CommandContext(ctx, pythonPath, args...)
	// The password travels in the environment, so that it is not in the
	// process list.
	cmd.Env = append(os.Environ(), "XMPP_PASSWORD="+spec.Password)
	return cmd, cleanup, nil
}

// describeEvents formats events for failure messages.
func describeEvents(events []Event) string {
	parts := make([]string, 0, len(events))
	for _, ev := range events {
		parts = append(parts, fmt.Sprintf("%+v", ev))
	}
	return strings.Join(parts, "; ")
}

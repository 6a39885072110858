package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// closeTimeout is how long Session.Close waits for client.py to exit after
// closing its stdin, before it kills the process.
const closeTimeout = 10 * time.Second

// Session is a client.py process that stays logged in, so that a test can
// run actions at chosen moments and observe the server ending the stream.
// Its methods must be called from the test's goroutine.
type Session struct {
	// JID is the full JID that the server bound.
	JID string

	t       testing.TB
	spec    ClientSpec
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	next    int
	exited  chan struct{}
	cleanup func()
	stderr  lockedBuffer

	mu       sync.Mutex
	events   []Event
	outcomes map[int]Outcome
	readErr  error
	changed  chan struct{}

	closeOnce sync.Once
}

// StartClient starts client.py in hold mode and waits until it is logged in.
// ctx bounds the login only: the session lives until Close, the end of the
// test, or the server ending the stream. The test fails when the login fails.
func StartClient(t testing.TB, ctx context.Context, spec ClientSpec) *Session {
	t.Helper()
	cmd, cleanup, err := clientCommand(context.Background(), spec, true, "[]")
	if err != nil {
		t.Fatal(err)
	}
	s := &Session{
		t:        t,
		spec:     spec,
		cmd:      cmd,
		exited:   make(chan struct{}),
		cleanup:  cleanup,
		outcomes: make(map[int]Outcome),
		changed:  make(chan struct{}),
	}
	cmd.Stderr = &s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cleanup()
		t.Fatalf("e2e: client stdout: %v", err)
	}
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		cleanup()
		t.Fatalf("e2e: client stdin: %v", err)
	}
	if err := cmd.Start(); err != nil {
		cleanup()
		t.Fatalf("e2e: start client %s: %v", spec.JID, err)
	}
	go s.read(stdout)
	t.Cleanup(s.Close)

	online, err := s.waitEvent(ctx, func(ev Event) bool {
		return ev.Event == EventOnline || ev.Event == EventLoginFailed || ev.Event == EventConnectionFailed
	})
	if err != nil {
		t.Fatalf("e2e: client %s: waiting for login: %v\nstderr:\n%s", spec.JID, err, s.stderr.String())
	}
	if online.Event != EventOnline {
		t.Fatalf("e2e: client %s did not log in: %s\nstderr:\n%s", spec.JID, describeEvents(s.Events()), s.stderr.String())
	}
	s.JID = online.JID
	return s
}

// read decodes stdout lines until client.py exits, then waits for it.
func (s *Session) read(stdout io.Reader) {
	scanner := bufio.NewScanner(stdout)
	scanner.Buffer(nil, 16<<20)
	for scanner.Scan() {
		ev, out, err := parseLine(scanner.Bytes())
		s.mu.Lock()
		switch {
		case err != nil:
			if s.readErr == nil {
				s.readErr = err
			}
		case ev != nil:
			s.events = append(s.events, *ev)
		default:
			s.outcomes[out.Action] = *out
		}
		s.notifyLocked()
		s.mu.Unlock()
	}

	waitErr := s.cmd.Wait()
	s.mu.Lock()
	if s.readErr == nil && scanner.Err() != nil {
		s.readErr = fmt.Errorf("%w: %v", ErrClientOutput, scanner.Err())
	}
	if waitErr != nil {
		s.stderr.WriteString(fmt.Sprintf("\n(client.py exited: %v)\n", waitErr))
	}
	s.notifyLocked()
	s.mu.Unlock()
	close(s.exited)
}

// notifyLocked wakes every goroutine that waits for new output.
func (s *Session) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Do runs actions in order and returns one outcome per action. When the
// stream has ended, or ends before a reply, the outcome's Error is
// OutcomeNotConnected. The test fails when ctx ends before every outcome.
func (s *Session) Do(ctx context.Context, actions ...Action) []Outcome {
	s.t.Helper()
	first := s.next
	s.next += len(actions)

	var lines bytes.Buffer
	for _, action := range actions {
		encoded, err := json.Marshal(action)
		if err != nil {
			s.t.Fatalf("e2e: encode action: %v", err)
		}
		lines.Write(encoded)
		lines.WriteByte('\n')
	}
	// A failed write means that client.py has exited. The missing outcomes
	// are filled in below.
	_, _ = s.stdin.Write(lines.Bytes())

	outcomes := make([]Outcome, len(actions))
	for i, action := range actions {
		index := first + i
		out, ok, err := s.waitOutcome(ctx, index)
		if err != nil {
			s.t.Fatalf("e2e: client %s: waiting for outcome of %s: %v\nstderr:\n%s",
				s.spec.JID, action.Op, err, s.stderr.String())
		}
		if !ok {
			out = Outcome{Action: index, Op: action.Op, To: action.To, Error: OutcomeNotConnected}
		}
		outcomes[i] = out
	}
	return outcomes
}

// waitOutcome waits for the outcome of the action with the given index. It
// returns false when client.py exited without printing it.
func (s *Session) waitOutcome(ctx context.Context, index int) (Outcome, bool, error) {
	for {
		s.mu.Lock()
		out, ok := s.outcomes[index]
		readErr := s.readErr
		changed := s.changed
		s.mu.Unlock()
		if ok {
			return out, true, nil
		}
		if readErr != nil {
			return Outcome{}, false, readErr
		}

		select {
		case <-changed:
		case <-s.exited:
			s.mu.Lock()
			out, ok := s.outcomes[index]
			s.mu.Unlock()
			return out, ok, nil
		case <-ctx.Done():
			return Outcome{}, false, ctx.Err()
		}
	}
}

// waitEvent returns the first event, printed at any time so far or later,
// for which match returns true.
func (s *Session) waitEvent(ctx context.Context, match func(Event) bool) (Event, error) {
	for {
		s.mu.Lock()
		events := s.events
		readErr := s.readErr
		changed := s.changed
		s.mu.Unlock()
		for _, ev := range events {
			if match(ev) {
				return ev, nil
			}
		}
		if readErr != nil {
			return Event{}, readErr
		}

		select {
		case <-changed:
		case <-s.exited:
			// The final output was read before exited was closed, so one
			// more look at the events is complete.
			for _, ev := range s.Events() {
				if match(ev) {
					return ev, nil
				}
			}
			return Event{}, ErrClientExited
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// Events returns the connection events printed so far.
func (s *Session) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Disconnect describes how a stream ended.
type Disconnect struct {
	// By is "server" when the server closed the stream or the connection,
	// and "client" when client.py did.
	By     string
	Reason string
	// StreamError and StreamErrorText are the condition and text of the
	// stream error before the end, such as "system-shutdown" or "conflict".
	// They are empty when there was none.
	StreamError     string
	StreamErrorText string
}

// WaitDisconnect waits until the stream has ended and describes the end. The
// error wraps ctx.Err() when ctx ends first, and is ErrClientExited when
// client.py exited without reporting the end.
func (s *Session) WaitDisconnect(ctx context.Context) (Disconnect, error) {
	ev, err := s.waitEvent(ctx, func(ev Event) bool { return ev.Event == EventDisconnected })
	if err != nil {
		return Disconnect{}, fmt.Errorf("e2e: client %s: waiting for disconnect: %w", s.JID, err)
	}
	d := Disconnect{By: ev.By, Reason: ev.Reason}
	for _, prior := range s.Events() {
		if prior.Event == EventStreamError {
			d.StreamError = prior.Condition
			d.StreamErrorText = prior.Text
		}
	}
	return d, nil
}

// Close closes client.py's stdin, so that it disconnects and exits, and
// waits for it, killing it after closeTimeout. Close is idempotent and runs
// at the end of the test. When the test failed, Close logs client.py's
// stderr.
func (s *Session) Close() {
	s.closeOnce.Do(func() {
		s.stdin.Close()
		select {
		case <-s.exited:
		case <-time.After(closeTimeout):
			s.t.Errorf("e2e: client %s still running %v after stdin closed", s.spec.JID, closeTimeout)
			if err := s.cmd.Process.Kill(); err != nil {
				s.t.Errorf("e2e: kill client %s: %v", s.spec.JID, err)
			}
			<-s.exited
		}
		s.cleanup()
		if s.t.Failed() && s.stderr.Len() > 0 {
			s.t.Logf("client.py %s stderr:\n%s", s.spec.JID, s.stderr.String())
		}
	})
}

// lockedBuffer is a bytes.Buffer that is safe for concurrent use, because
// exec copies stderr on its own goroutine while tests read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s)
}

func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// maxLogReport is the size of the tail of Prosody's log that a failed test
// prints.
const maxLogReport = 64 << 10

// start runs the prosody binary and waits until it is ready. On failure the
// process is stopped and the error wraps ErrProsodyNotReady.
func (p *Prosody) start() error {
	logOffset := fileSize(p.LogFile)

	out, err := os.OpenFile(p.outFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("e2e: open prosody output file: %w", err)
	}
	defer out.Close()

	// -F keeps Prosody in the foreground, so that the process started here
	// is the server and SIGTERM to it stops the server.
	cmd := exec.Command("prosody", "--config", p.ConfigFile, "-F")
	cmd.Dir = p.Dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = processAttributes()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%w: start prosody: %v", ErrProsodyNotReady, err)
	}

	proc := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		proc.err = cmd.Wait()
		close(proc.done)
	}()
	p.mu.Lock()
	p.proc = proc
	p.mu.Unlock()

	if err := p.waitReady(proc, logOffset); err != nil {
		if stopErr := p.stop(); stopErr != nil {
			return errors.Join(err, stopErr)
		}
		return err
	}
	return nil
}

// waitReady polls the log written since logOffset until Prosody has opened
// both listeners and mod_delegation has loaded every namespace, then dials
// both listeners once.
func (p *Prosody) waitReady(proc *process, logOffset int64) error {
	want := []string{
		fmt.Sprintf("Activated service 'c2s' on [127.0.0.1]:%d", p.values.C2SPort),
		fmt.Sprintf("Activated service 'component' on [127.0.0.1]:%d", p.values.ComponentPort),
	}
	for _, ns := range p.values.Namespaces {
		want = append(want, fmt.Sprintf("Namespace %s is delegated to %s", ns, p.ComponentJID))
	}
	if p.values.ClienteleURL != "" {
		want = append(want, fmt.Sprintf("Reporting to %s as node %s", p.values.ClienteleURL, p.NodeID))
	}

	deadline := time.Now().Add(readyTimeout)
	for {
		log := readFrom(p.LogFile, logOffset)
		if line := findLine(log, "Failed to open server port"); line != "" {
			return fmt.Errorf("%w: %w: %s", ErrProsodyNotReady, errPortInUse, line)
		}
		if line := findLine(log, "Unable to load module"); line != "" {
			return fmt.Errorf("%w: %s (install with: %s)", ErrProsodyNotReady, line, InstallHint)
		}
		if line := findLine(log, "Error initializing module"); line != "" {
			return fmt.Errorf("%w: %s", ErrProsodyNotReady, line)
		}
		if missing := missingLines(log, want); len(missing) == 0 {
			break
		} else if time.Now().After(deadline) {
			return fmt.Errorf("%w: no log line %q after %v; see %s", ErrProsodyNotReady, missing[0], readyTimeout, p.LogFile)
		}

		select {
		case <-proc.done:
			output, _ := os.ReadFile(p.outFile)
			return fmt.Errorf("%w: prosody exited during start: %v\n%s", ErrProsodyNotReady, proc.err, output)
		case <-time.After(10 * time.Millisecond):
		}
	}

	for _, addr := range []string{p.C2SAddr, p.ComponentAddr} {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return fmt.Errorf("%w: dial %s: %v", ErrProsodyNotReady, addr, err)
		}
		conn.Close()
	}
	return nil
}

// stop sends SIGTERM to the running process and waits for it to exit,
// killing it after stopTimeout. It returns an error when Prosody had already
// exited with a failure, or had to be killed.
func (p *Prosody) stop() error {
	p.mu.Lock()
	proc := p.proc
	p.proc = nil
	p.mu.Unlock()
	if proc == nil {
		return nil
	}

	select {
	case <-proc.done:
		if proc.err != nil {
			return fmt.Errorf("e2e: prosody exited before stop: %v", proc.err)
		}
		return nil
	default:
	}

	if err := proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("e2e: send SIGTERM to prosody: %w", err)
	}
	select {
	case <-proc.done:
		return nil
	case <-time.After(stopTimeout):
	}

	if err := proc.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("e2e: kill prosody: %w", err)
	}
	<-proc.done
	return fmt.Errorf("e2e: prosody still running %v after SIGTERM, killed", stopTimeout)
}

// kill sends SIGKILL to the running process and waits for it to exit.
func (p *Prosody) kill() error {
	p.mu.Lock()
	proc := p.proc
	p.proc = nil
	p.mu.Unlock()
	if proc == nil {
		return errors.New("e2e: prosody kill: not running")
	}
	if err := proc.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("e2e: kill prosody: %w", err)
	}
	<-proc.done
	return nil
}

// Log returns Prosody's debug log of every start so far.
func (p *Prosody) Log() string {
	return readFrom(p.LogFile, 0)
}

// logReport returns the tail of Prosody's log and its stdout and stderr,
// for a failed test.
func (p *Prosody) logReport() string {
	var b strings.Builder
	log := p.Log()
	if len(log) > maxLogReport {
		fmt.Fprintf(&b, "prosody log %s (last %d of %d bytes):\n", p.LogFile, maxLogReport, len(log))
		log = log[len(log)-maxLogReport:]
	} else {
		fmt.Fprintf(&b, "prosody log %s:\n", p.LogFile)
	}
	b.WriteString(log)

	if output := readFrom(p.outFile, 0); output != "" {
		fmt.Fprintf(&b, "\nprosody stdout and stderr:\n%s", output)
	}
	return b.String()
}

func fileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return info.Size()
}

// readFrom returns the content of path from offset on, or "" when the file
// cannot be read.
func readFrom(path string, offset int64) string {
	data, err := os.ReadFile(path)
	if err != nil || offset > int64(len(data)) {
		return ""
	}
	return string(data[offset:])
}

// findLine returns the first line of text that contains substr, or "".
func findLine(text, substr string) string {
	i := strings.Index(text, substr)
	if i < 0 {
		return ""
	}
	start := strings.LastIndexByte(text[:i], '\n') + 1
	end := strings.IndexByte(text[i:], '\n')
	if end < 0 {
		return strings.TrimSpace(text[start:])
	}
	return strings.TrimSpace(text[start : i+end])
}

// missingLines returns the elements of want that text does not contain.
func missingLines(text string, want []string) []string {
	var missing []string
	for _, w := range want {
		if !strings.Contains(text, w) {
			missing = append(missing, w)
		}
	}
	return missing
}

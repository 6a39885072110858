package reliability_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// longRun reports whether CLIENTELE_LONG=1 selects the long variants.
func longRun() bool {
	return os.Getenv("CLIENTELE_LONG") == "1"
}

// binaries are the programs that the tests run as subprocesses.
type binaries struct {
	clientele  string
	natsServer string
}

var (
	buildOnce sync.Once
	built     binaries
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildBinaries builds cmd/clientele and the nats-server of go.mod once per
// test run.
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "clientele-reliability-")
		if buildErr != nil {
			return
		}
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		targets := []struct {
			out *string
			pkg string
		}{
			{&built.clientele, "./cmd/clientele"},
			{&built.natsServer, "github.com/nats-io/nats-server/v2"},
		}
		for _, target := range targets {
			*target.out = filepath.Join(buildDir, filepath.Base(strings.TrimSuffix(target.pkg, "/v2")))
			cmd := exec.Command("go", "build", "-o", *target.out, target.pkg)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", target.pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func loopback(port int) string {
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// process is a subprocess that a test starts, kills and starts again with
// the same arguments. Its output is appended to a log file.
type process struct {
	t       *testing.T
	name    string
	bin     string
	args    []string
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
	starts int
}

func newProcess(t *testing.T, name, bin string, args ...string) *process {
	p := &process{t: t, name: name, bin: bin, args: args, logPath: filepath.Join(t.TempDir(), name+".log")}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("last lines of the %s log:\n%s", p.name, p.logTail(40))
		}
	})
	return p
}

// start runs the program and returns at once.
func (p *process) start() {
	p.t.Helper()
	out, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.starts++
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(exited)
	}()
}

// running reports whether the process was started and has not exited.
func (p *process) running() bool {
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	if exited == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// kill sends SIGKILL and waits for the exit. It does nothing when the
// process is not running.
func (p *process) kill() {
	p.signal(syscall.SIGKILL, 10*time.Second)
}

// stop sends SIGTERM, waits up to 30 seconds for the exit, and returns the
// exit error, nil for exit code 0.
func (p *process) stop() error {
	return p.signal(syscall.SIGTERM, 30*time.Second)
}

func (p *process) signal(sig syscall.Signal, wait time.Duration) error {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil || !p.running() {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("%s did not exit within %s of %v", p.name, wait, sig)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// waitHTTP polls url until it returns 200, the process exits, or timeout
// passes.
func (p *process) waitHTTP(url string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !p.running() {
			p.t.Fatalf("%s exited before %s returned 200:\n%s", p.name, url, p.logTail(40))
		}
		if httpStatus(url) == http.StatusOK {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("%s: %s did not return 200 within %s:\n%s", p.name, url, timeout, p.logTail(40))
}

// httpStatus returns the status code of a GET of url, or 0 when the
// request failed.
func httpStatus(url string) int {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// logSize returns the current size of the log, an offset for logSince.
func (p *process) logSize() int64 {
	info, err := os.Stat(p.logPath)
	if err != nil {
		return 0
	}
	return info.Size()
}

// logSince returns the log written from offset on.
func (p *process) logSince(offset int64) []byte {
	f, err := os.Open(p.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil
	}
	data, _ := io.ReadAll(f)
	return data
}

func (p *process) logTail(lines int) string {
	data := p.logSince(0)
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// logRecord is one line of a JSON log of serve.
type logRecord struct {
	Time  time.Time `json:"time"`
	Level string    `json:"level"`
	Msg   string    `json:"msg"`
	// Duration is the "duration" attribute in nanoseconds.
	Duration int64  `json:"duration"`
	Error    string `json:"error"`
}

// logRecords parses the JSON log lines of data, skipping other lines.
func logRecords(data []byte) []logRecord {
	var out []logRecord
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var r logRecord
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Msg != "" {
			out = append(out, r)
		}
	}
	return out
}

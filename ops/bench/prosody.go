package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Names of the Prosody that the XMPP measurement runs.
const (
	xmppDomain    = "example.test"
	xmppComponent = "clients.example.test"
	xmppUser      = "bench"
)

// delegationModules are the places where Debian's prosody-modules and a
// manual install put mod_delegation, which the XMPP measurement needs.
var delegationModules = []string{
	"/usr/lib/prosody/modules/mod_delegation/mod_delegation.lua",
	"/usr/lib/prosody/modules/mod_delegation.lua",
	"/usr/local/lib/prosody/modules/mod_delegation/mod_delegation.lua",
}

// prosody is a Prosody process on loopback ports with one account and an
// external component to which the client access namespaces are delegated.
type prosody struct {
	dir           string
	config        string
	c2sAddr       string
	componentAddr string
	secret        string
	password      string
	cmd           *exec.Cmd
	exited        chan error
}

// missingProsody returns why the XMPP measurement cannot run here, or ""
// when Prosody, prosodyctl and mod_delegation are installed.
func missingProsody() string {
	for _, name := range []string{"prosody", "prosodyctl"} {
		if _, err := exec.LookPath(name); err != nil {
			return "prosody not installed"
		}
	}
	for _, path := range delegationModules {
		if _, err := os.Stat(path); err == nil {
			return ""
		}
	}
	return "mod_delegation not installed (Debian package prosody-modules)"
}

// startProsody writes a config under dir, registers the bench account and
// starts Prosody, and returns once both of its listeners accept
// connections.
func startProsody(ctx context.Context, dir string) (*prosody, error) {
	p := &prosody{dir: dir, config: filepath.Join(dir, "prosody.cfg.lua"), exited: make(chan error, 1)}
	var err error
	if p.c2sAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	if p.componentAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	p.secret, p.password = randomHex(16), randomHex(12)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, fmt.Errorf("bench: prosody data directory: %w", err)
	}
	if err := os.WriteFile(p.config, []byte(p.render()), 0o600); err != nil {
		return nil, fmt.Errorf("bench: prosody config: %w", err)
	}
	out, err := exec.CommandContext(ctx, "prosodyctl", "--config", p.config, "register", xmppUser, xmppDomain, p.password).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("bench: prosodyctl register: %w: %s", err, out)
	}

	log, err := os.Create(filepath.Join(dir, "prosody.out"))
	if err != nil {
		return nil, fmt.Errorf("bench: prosody output file: %w", err)
	}
	defer log.Close()
	// -F keeps Prosody in the foreground, so that this process is the
	// server and stop ends it.
	p.cmd = exec.Command("prosody", "--config", p.config, "-F")
	p.cmd.Dir, p.cmd.Stdout, p.cmd.Stderr = dir, log, log
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start prosody: %w", err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	if err := p.waitListening(ctx, 15*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// render returns a Prosody config that listens on loopback only, accepts
// plain-text authentication without TLS, and delegates both client access
// namespaces to the component.
func (p *prosody) render() string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	_, c2sPort, _ := net.SplitHostPort(p.c2sAddr)
	_, componentPort, _ := net.SplitHostPort(p.componentAddr)
	line("pidfile = %q", filepath.Join(p.dir, "prosody.pid"))
	line("data_path = %q", filepath.Join(p.dir, "data"))
	line("log = { info = %q }", filepath.Join(p.dir, "prosody.log"))
	if os.Geteuid() == 0 {
		line("run_as_root = true")
	}
	line("use_ipv6 = false")
	line(`interfaces = { "127.0.0.1" }`)
	line("c2s_ports = { %s }", c2sPort)
	line("component_ports = { %s }", componentPort)
	line(`modules_enabled = { "roster", "saslauth", "disco", "ping", "delegation" }`)
	line(`modules_disabled = { "s2s" }`)
	line(`authentication = "internal_plain"`)
	line("c2s_require_encryption = false")
	line("allow_unencrypted_plain_auth = true")
	line("VirtualHost %q", xmppDomain)
	line("  delegations = {")
	for _, ns := range []string{"urn:xmpp:cam:0", "xmpp:prosody.im/protocol/manage-clients"} {
		line("    [%q] = { jid = %q };", ns, xmppComponent)
	}
	line("  }")
	line("Component %q", xmppComponent)
	line("  component_secret = %q", p.secret)
	line(`  modules_enabled = { "delegation" }`)
	return b.String()
}

// waitListening dials both listeners until they accept or timeout passes.
func (p *prosody) waitListening(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, addr := range []string{p.c2sAddr, p.componentAddr} {
		for {
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				conn.Close()
				break
			}
			select {
			case err := <-p.exited:
				return fmt.Errorf("bench: prosody exited at start (%v): see %s", err, filepath.Join(p.dir, "prosody.out"))
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("bench: prosody not listening on %s after %s", addr, timeout)
			}
		}
	}
	return nil
}

// stop ends Prosody with SIGTERM, and kills it after five seconds.
func (p *prosody) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago. Another process may take it before Prosody binds it, and
// startProsody then fails with Prosody's own error.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("bench: free port: %w", err)
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // Since Go 1.24, crypto/rand.Read never returns an error.
	return hex.EncodeToString(b)
}

// Package e2e runs end-to-end tests of clientele against a real XMPP server:
// a throwaway Prosody 0.12 with mod_delegation (XEP-0355) on loopback, and
// slixmpp clients driven by testdata/client.py.
//
// The helpers are for tests only. A test starts Prosody with StartProsody,
// connects clientele as the external component at Prosody.ComponentAddr with
// Prosody.ComponentJID and Prosody.ComponentSecret, and runs client actions
// with RunClient or, for clients that must stay connected, StartClient.
// With Options.Clientele, Prosody also loads mod_clientele from
// contrib/prosody, which reports to a clientele serve over HTTP.
//
// Prosody, mod_delegation (Debian's prosody-modules) and slixmpp for
// /usr/bin/python3 must be installed. When one is missing the tests fail with
// the install command in InstallHint; they never skip.
package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Timeouts of the Prosody process.
const (
	readyTimeout = 10 * time.Second
	stopTimeout  = 10 * time.Second
)

// Options configures StartProsody. The zero value works.
type Options struct {
	// Domain is the VirtualHost of the users; "example.test" when empty.
	Domain string

	// ComponentJID is the address of the external component that the
	// namespaces are delegated to; "clients.example.test" when empty.
	ComponentJID string

	// Users are the local parts of the accounts registered before start,
	// each with a random password; "alice" and "bob" when empty.
	Users []string

	// Namespaces are delegated to the component; NSManageClients and NSCAM
	// when empty.
	Namespaces []string

	// Modules are loaded besides the harness's own (roster, saslauth,
	// disco, ping and delegation), such as "smacks" or "sasl2".
	Modules []string

	// Clientele loads mod_clientele; nil loads no mod_clientele.
	Clientele *ClienteleModule
}

func (o Options) withDefaults() Options {
	if o.Domain == "" {
		o.Domain = "example.test"
	}
	if o.ComponentJID == "" {
		o.ComponentJID = "clients." + o.Domain
	}
	if len(o.Users) == 0 {
		o.Users = []string{"alice", "bob"}
	}
	if len(o.Namespaces) == 0 {
		o.Namespaces = []string{NSManageClients, NSCAM}
	}
	return o
}

// Prosody is a Prosody server run by a test, with its config, data and log in
// a temporary folder. Its methods must be called from the test's goroutine,
// because they end the test with t.Fatal when Prosody fails.
type Prosody struct {
	// C2SAddr is the client-to-server listener, "127.0.0.1:PORT".
	C2SAddr string
	// ComponentAddr is the XEP-0114 listener, "127.0.0.1:PORT".
	ComponentAddr string
	// Domain is the VirtualHost of the registered users.
	Domain string
	// ComponentJID is the component address that the namespaces are
	// delegated to.
	ComponentJID string
	// ComponentSecret is the XEP-0114 handshake secret.
	ComponentSecret string
	// ComponentSecretFile is a file that contains ComponentSecret and
	// nothing else, for programs that read the secret from a file.
	ComponentSecretFile string
	// Dir contains the config, data, pidfile and logs.
	Dir string
	// ConfigFile is the generated config, for prosodyctl --config.
	ConfigFile string
	// LogFile is Prosody's debug log; every start appends to it.
	LogFile string
	// NodeID is the clientele_node_id of mod_clientele; empty without it.
	NodeID string

	t         testing.TB
	values    configValues
	passwords map[string]string
	outFile   string

	mu   sync.Mutex
	proc *process
}

// process is one run of the prosody binary.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartProsody starts Prosody and registers the users of opts. When the test
// ends, Prosody is stopped and, if the test failed, its log is printed.
func StartProsody(t testing.TB, opts Options) *Prosody {
	t.Helper()
	if err := checkInstalled(); err != nil {
		t.Fatal(err)
	}
	opts = opts.withDefaults()

	dir := t.TempDir()
	p := &Prosody{
		Domain:              opts.Domain,
		ComponentJID:        opts.ComponentJID,
		ComponentSecret:     randomHex(t, 16),
		ComponentSecretFile: filepath.Join(dir, "component.secret"),
		Dir:                 dir,
		ConfigFile:          filepath.Join(dir, "prosody.cfg.lua"),
		LogFile:             filepath.Join(dir, "prosody.log"),
		t:                   t,
		passwords:           make(map[string]string),
		outFile:             filepath.Join(dir, "prosody.out"),
	}
	p.values = configValues{
		PIDFile:         filepath.Join(dir, "prosody.pid"),
		DataDir:         filepath.Join(dir, "data"),
		LogFile:         p.LogFile,
		RunAsRoot:       os.Geteuid() == 0,
		Domain:          opts.Domain,
		ComponentJID:    opts.ComponentJID,
		ComponentSecret: p.ComponentSecret,
		Namespaces:      opts.Namespaces,
		Modules:         opts.Modules,
	}
	if m := opts.Clientele; m != nil {
		p.NodeID = m.nodeID()
		p.values.PluginPaths = []string{ModuleDir()}
		p.values.Modules = append(p.values.Modules, "clientele")
		p.values.Options = m.options()
		p.values.ClienteleURL = m.URL
	}

	// An empty certs folder beside the config silences Prosody's warning
	// about a missing certificate folder.
	for _, sub := range []string{"data", "certs"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatalf("e2e: create prosody folder: %v", err)
		}
	}
	if err := os.WriteFile(p.ComponentSecretFile, []byte(p.ComponentSecret), 0o600); err != nil {
		t.Fatalf("e2e: write component secret file: %v", err)
	}
	t.Cleanup(p.cleanup)

	p.startOnFreePorts(opts.Users)
	return p
}

// startOnFreePorts picks free ports, writes the config, registers users and
// starts Prosody. It retries with new ports when Prosody cannot bind one,
// because another process may take a port between the check and the bind.
func (p *Prosody) startOnFreePorts(users []string) {
	p.t.Helper()
	const attempts = 3
	for attempt := 1; ; attempt++ {
		p.values.C2SPort = mustFreePort(p.t)
		p.values.ComponentPort = mustFreePort(p.t)
		p.C2SAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p.values.C2SPort))
		p.ComponentAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p.values.ComponentPort))
		if err := os.WriteFile(p.ConfigFile, []byte(renderConfig(p.values)), 0o600); err != nil {
			p.t.Fatalf("e2e: write prosody config: %v", err)
		}
		if attempt == 1 {
			for _, user := range users {
				p.register(user, randomHex(p.t, 12))
			}
		}

		err := p.start()
		if err == nil {
			return
		}
		if !errors.Is(err, errPortInUse) || attempt == attempts {
			p.t.Fatal(err)
		}
		p.t.Logf("e2e: prosody could not bind its ports, retrying with new ones: %v", err)
	}
}

// register creates an account with prosodyctl, which writes it to Prosody's
// data folder.
func (p *Prosody) register(user, password string) {
	p.t.Helper()
	cmd := exec.Command("prosodyctl", "--config", p.ConfigFile, "register", user, p.Domain, password)
	out, err := cmd.CombinedOutput()
	if err != nil {
		p.t.Fatalf("e2e: prosodyctl register %s@%s failed: %v\n%s", user, p.Domain, err, out)
	}
	p.passwords[user] = password
}

// User returns the ClientSpec to log in as a registered user with the
// resource "e2e". The test fails when the user was not registered.
func (p *Prosody) User(name string) ClientSpec {
	p.t.Helper()
	password, ok := p.passwords[name]
	if !ok {
		p.t.Fatalf("e2e: user %q not registered (registered: %v)", name, p.userNames())
	}
	return ClientSpec{
		Addr:     p.C2SAddr,
		JID:      name + "@" + p.Domain,
		Password: password,
		Resource: "e2e",
	}
}

func (p *Prosody) userNames() []string {
	names := make([]string, 0, len(p.passwords))
	for name := range p.passwords {
		names = append(names, name)
	}
	return names
}

// Running reports whether the Prosody process is running.
func (p *Prosody) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return false
	}
	select {
	case <-p.proc.done:
		return false
	default:
		return true
	}
}

// Start starts a stopped Prosody on the same config, data and ports, and
// waits until it listens and has loaded mod_delegation.
func (p *Prosody) Start() {
	p.t.Helper()
	if p.Running() {
		p.t.Fatal("e2e: prosody start: already running")
	}
	if err := p.start(); err != nil {
		p.t.Fatal(err)
	}
}

// Stop ends Prosody with SIGTERM and waits for it to exit. Prosody closes
// every client and component stream with a system-shutdown stream error.
// Stop does nothing when Prosody is not running.
func (p *Prosody) Stop() {
	p.t.Helper()
	if err := p.stop(); err != nil {
		p.t.Fatal(err)
	}
}

// Kill ends Prosody with SIGKILL, as a crash would, and waits for it to
// exit. Nothing of Prosody's shutdown runs: clients see their connections
// drop without a stream error.
func (p *Prosody) Kill() {
	p.t.Helper()
	if err := p.kill(); err != nil {
		p.t.Fatal(err)
	}
}

// Restart stops Prosody and starts it again on the same config, data and
// ports. Every session and the component connection are closed on the way.
func (p *Prosody) Restart() {
	p.t.Helper()
	p.Stop()
	p.Start()
}

func (p *Prosody) cleanup() {
	if err := p.stop(); err != nil {
		p.t.Error(err)
	}
	if p.t.Failed() {
		p.t.Log(p.logReport())
	}
}

func mustFreePort(t testing.TB) int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("e2e: random bytes: %v", err)
	}
	return hex.EncodeToString(b)
}

// checkInstalled returns ErrNotInstalled, wrapped with the missing part, when
// a program that the harness runs is missing. The result is computed once.
var checkInstalled = sync.OnceValue(func() error {
	if err := checkPrograms("prosody", "prosodyctl"); err != nil {
		return err
	}
	if err := checkDelegationModule(); err != nil {
		return err
	}
	return checkPython()
})

// checkPrograms returns ErrNotInstalled, wrapped with the first missing name,
// when a program is not in PATH.
func checkPrograms(names ...string) error {
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			return fmt.Errorf("%w: %s not found in PATH", ErrNotInstalled, name)
		}
	}
	return nil
}

// checkDelegationModule looks for mod_delegation in the plugin folders that
// Debian's prosody and prosody-modules packages use.
func checkDelegationModule() error {
	candidates := []string{
		"/usr/lib/prosody/modules/mod_delegation/mod_delegation.lua",
		"/usr/lib/prosody/modules/mod_delegation.lua",
		"/usr/local/lib/prosody/modules/mod_delegation/mod_delegation.lua",
	}
	for _, path := range candidates {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%w: mod_delegation not found in %v", ErrNotInstalled, candidates)
}

// checkPython runs /usr/bin/python3 to import slixmpp. Debian installs
// slixmpp for that interpreter only, so a python3 found earlier in PATH may
// not have it.
func checkPython() error {
	out, err := exec.Command(pythonPath, "-c", "import slixmpp").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s cannot import slixmpp: %v: %s", ErrNotInstalled, pythonPath, err, out)
	}
	return nil
}

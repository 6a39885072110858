package e2e

import "errors"

// InstallHint is the command that installs the programs the harness runs.
const InstallHint = "apt-get install -y prosody prosody-modules python3-slixmpp"

var (
	// ErrNotInstalled is returned when Prosody, prosodyctl, mod_delegation,
	// /usr/bin/python3 or its slixmpp module is missing.
	ErrNotInstalled = errors.New("e2e: required program not installed (install with: " + InstallHint + ")")

	// ErrProsodyNotReady is returned when Prosody exits or does not open its
	// ports and load mod_delegation in time.
	ErrProsodyNotReady = errors.New("e2e: prosody not ready")

	// ErrClientOutput is returned when client.py prints a line that is not
	// a JSON event or outcome.
	ErrClientOutput = errors.New("e2e: invalid client output")

	// ErrClientExited is returned when client.py exits before it printed
	// what the caller waits for.
	ErrClientExited = errors.New("e2e: client exited")
)

// errPortInUse is wrapped into the error of a start in which Prosody could
// not bind one of its ports.
var errPortInUse = errors.New("e2e: prosody port in use")

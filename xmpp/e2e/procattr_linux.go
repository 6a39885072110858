//go:build linux

package e2e

import "syscall"

// processAttributes makes the kernel send SIGTERM to Prosody when the test
// process dies without running its cleanups, for example on a test timeout.
func processAttributes() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

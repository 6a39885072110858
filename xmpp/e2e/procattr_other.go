//go:build !linux

package e2e

import "syscall"

// processAttributes returns nil: only Linux can tie a child's life to its
// parent, so elsewhere a killed test process can leave Prosody running.
func processAttributes() *syscall.SysProcAttr {
	return nil
}

//go:build !linux

package bench

import (
	"errors"
	"time"
)

// processCPUOf reports that the CPU time of another process is not read
// outside Linux.
func processCPUOf(int) (time.Duration, error) {
	return 0, errors.New("bench: CPU time of another process is read only on Linux")
}

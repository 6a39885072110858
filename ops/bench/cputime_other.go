//go:build !unix

package bench

import "time"

// processCPU returns 0: this platform reports no CPU time to the bench.
func processCPU() time.Duration { return 0 }

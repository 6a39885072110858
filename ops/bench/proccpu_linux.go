package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the unit of the CPU times in /proc/PID/stat, USER_HZ.
// NOTE: 100 is the value on x86 and ARM Linux, assumed here without
// reading sysconf(_SC_CLK_TCK), which would need cgo.
const clockTicks = 100

// processCPUOf returns the user and system CPU time that process pid has
// used, from /proc/PID/stat, with a resolution of 10 ms.
func processCPUOf(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name in field 2 may contain spaces, so the fields are
	// counted from the ")" that ends it: utime and stime are fields 14
	// and 15 of the line.
	end := strings.LastIndexByte(string(data), ')')
	if end < 0 {
		return 0, fmt.Errorf("bench: /proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(string(data[end+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("bench: /proc/%d/stat: %d fields after the command name, expected at least 13", pid, len(fields))
	}
	utime, err1 := strconv.ParseUint(fields[11], 10, 64)
	stime, err2 := strconv.ParseUint(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: /proc/%d/stat: invalid CPU times %q and %q: expected whole numbers of clock ticks", pid, fields[11], fields[12])
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

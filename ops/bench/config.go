package bench

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// Measurement names, in the order in which Run executes them.
const (
	MeasureHeap    = "heap"
	MeasurePublish = "publish"
	MeasureCatchUp = "catchup"
	MeasureRestart = "restart"
	MeasureList    = "list"
	MeasureXMPP    = "xmpp"
	MeasureRevoke  = "revoke"
)

// Measurements lists every measurement name in the order of a run.
var Measurements = []string{MeasureHeap, MeasurePublish, MeasureCatchUp, MeasureRestart, MeasureList, MeasureXMPP, MeasureRevoke}

// Defaults of a zero Config, sized so that a whole run takes a few minutes
// on two cores.
const (
	DefaultEvents    = 5_000_000
	DefaultUsers     = 100_000
	DefaultHeapUsers = 1_000_000
	DefaultRequests  = 20_000
	DefaultRevokes   = 2_000
)

// ClientsPerHeapUser is the number of clients of every account folded for
// the heap figure.
const ClientsPerHeapUser = 3

// Config sets the sizes of a run. The zero value runs every measurement
// with the Default sizes.
type Config struct {
	// Events is the number of simulated events published to the stream,
	// half by the publisher and half by the bare baseline. The projector
	// then catches up on all of them and restarts. 0 means DefaultEvents.
	Events int `json:"events"`
	// Users is the number of accounts in the simulated stream. 0 means
	// DefaultUsers.
	Users int `json:"users"`
	// HeapUsers is the number of accounts, with ClientsPerHeapUser clients
	// each, folded for the heap figure. 0 means DefaultHeapUsers.
	HeapUsers int `json:"heap_users"`
	// Requests is the number of list requests, and as many echo requests.
	// 0 means DefaultRequests.
	Requests int `json:"requests"`
	// Revokes is the number of revokes, and as many synchronous publishes.
	// 0 means DefaultRevokes.
	Revokes int `json:"revokes"`
	// Seed selects the simulated history.
	Seed uint64 `json:"seed"`
	// Only names the measurements to run; empty means all of them.
	Only []string `json:"only,omitempty"`
	// Dir is the directory in which the temporary JetStream store is
	// created and removed; empty means the system's temporary directory.
	Dir string `json:"-"`
	// Logger receives the log lines of the server, projector and query
	// service; nil discards them.
	Logger *slog.Logger `json:"-"`
	// Progress, when set, is called at the start of each step and at
	// intervals during long ones.
	Progress func(Progress) `json:"-"`
}

// Quick returns a Config that runs every measurement at a size that takes
// seconds, for smoke tests. Its figures are noisy.
func Quick() Config {
	return Config{Events: 20_000, Users: 1_000, HeapUsers: 10_000, Requests: 500, Revokes: 100}
}

// Progress reports the state of a run.
type Progress struct {
	// Measurement is the name of the running measurement.
	Measurement string
	// Step describes what it is doing, such as "bare ordered consumer".
	Step string
	// Done and Total count the units of the step; Total is 0 when unknown.
	Done, Total int
}

func (c Config) withDefaults() (Config, error) {
	fields := []struct {
		name  string
		value *int
		def   int
	}{
		{"Events", &c.Events, DefaultEvents},
		{"Users", &c.Users, DefaultUsers},
		{"HeapUsers", &c.HeapUsers, DefaultHeapUsers},
		{"Requests", &c.Requests, DefaultRequests},
		{"Revokes", &c.Revokes, DefaultRevokes},
	}
	for _, f := range fields {
		if *f.value < 0 {
			return c, fmt.Errorf("%w: %s is %d: must be 0 for the default %d, or more", ErrInvalidConfig, f.name, *f.value, f.def)
		}
		if *f.value == 0 {
			*f.value = f.def
		}
	}
	for _, name := range c.Only {
		if !slices.Contains(Measurements, name) {
			return c, fmt.Errorf("%w: unknown measurement %q: use one of %s", ErrInvalidConfig, name, strings.Join(Measurements, ", "))
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Progress == nil {
		c.Progress = func(Progress) {}
	}
	return c, nil
}

// selected reports whether the measurement name is to run.
func (c Config) selected(name string) bool {
	return len(c.Only) == 0 || slices.Contains(c.Only, name)
}

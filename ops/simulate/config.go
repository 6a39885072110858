package simulate

import (
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/clientele-xmpp/clientele/events"
)

// Defaults of a zero Config.
const (
	DefaultNodes             = 3
	DefaultUsers             = 10
	DefaultDomain            = "example.test"
	DefaultBatchSize         = 1000
	DefaultHeartbeatInterval = 30 * time.Second
)

// simulatedSpan is the simulated time over which the expected number of
// events is spread, and the distance of the default start before the
// current hour.
const simulatedSpan = 6 * time.Hour

// defaultExpectedEvents sizes the gaps of the simulated clock when neither
// Events nor Rate and Duration bound the run.
const defaultExpectedEvents = 100_000

// Config sets the size, length, pace and seed of a simulation. The zero
// value simulates 3 nodes and 10 accounts of example.test with seed 0 until
// the context of Run ends.
type Config struct {
	// Nodes is the number of XMPP nodes, named xmpp-1 to xmpp-Nodes. 0 means 3.
	Nodes int
	// Users is the number of accounts, user1@Domain to userN@Domain. 0 means 10.
	Users int
	// Events stops generation after this many events. 0 means no limit.
	Events int
	// Duration stops generation after this much wall-clock time. 0 means no
	// limit. With Events also set, the first limit reached stops.
	Duration time.Duration
	// Rate paces publishing to this many events per second. 0 publishes as
	// fast as JetStream acknowledges.
	Rate float64
	// Seed selects the simulated history.
	Seed uint64
	// Domain is the domain of the accounts. "" means example.test.
	Domain string
	// Start is the time of the first simulated event. The zero value means
	// the current hour, truncated, minus six hours.
	Start time.Time
	// Serve keeps the nodes heartbeating and carrying out revoke commands
	// after generation stopped, until the context of Run ends.
	Serve bool
	// BatchSize is the number of events per publish. A batch also takes the
	// rest of its last action, at most 3 more events. 0 means 1000.
	BatchSize int
	// HeartbeatInterval is the wall-clock time between node heartbeats.
	// 0 means 30 seconds.
	HeartbeatInterval time.Duration
	// Logger receives the start and stop of a run and each revoke command.
	// nil discards them.
	Logger *slog.Logger
}

// withDefaults returns c with its zero fields set to their defaults and
// Domain normalised, or an error wrapping ErrInvalidConfig.
func (c Config) withDefaults(now time.Time) (Config, error) {
	if err := c.check(); err != nil {
		return c, err
	}

	if c.Nodes == 0 {
		c.Nodes = DefaultNodes
	}
	if c.Users == 0 {
		c.Users = DefaultUsers
	}
	if c.Domain == "" {
		c.Domain = DefaultDomain
	}
	user, err := events.NormaliseUser("user1@" + c.Domain)
	if err != nil {
		return c, fmt.Errorf("%w: domain %q: %v", ErrInvalidConfig, c.Domain, err)
	}
	c.Domain = user[len("user1@"):]

	if c.Start.IsZero() {
		c.Start = now.UTC().Truncate(time.Hour).Add(-simulatedSpan)
	}
	c.Start = c.Start.UTC()

	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func (c Config) check() error {
	checks := []struct {
		field string
		bad   bool
		value any
		rule  string
	}{
		{"Nodes", c.Nodes < 0 || c.Nodes > 999, c.Nodes, "must be between 1 and 999, or 0 for the default"},
		{"Users", c.Users < 0, c.Users, "must not be negative"},
		{"Events", c.Events < 0, c.Events, "must not be negative"},
		{"Duration", c.Duration < 0, c.Duration, "must not be negative"},
		{"Rate", c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0), c.Rate, "must be a finite number of events per second, 0 or more"},
		{"BatchSize", c.BatchSize < 0, c.BatchSize, "must not be negative"},
		{"HeartbeatInterval", c.HeartbeatInterval < 0, c.HeartbeatInterval, "must not be negative"},
	}
	for _, ch := range checks {
		if ch.bad {
			return fmt.Errorf("%w: %s is %v: %s", ErrInvalidConfig, ch.field, ch.value, ch.rule)
		}
	}
	return nil
}

// expectedEvents estimates how many events a run generates, to size the
// steps of the simulated clock.
func (c Config) expectedEvents() int {
	switch {
	case c.Events > 0:
		return c.Events
	case c.Rate > 0 && c.Duration > 0:
		return max(1, int(c.Rate*c.Duration.Seconds()))
	default:
		return defaultExpectedEvents
	}
}

// Progress is the state of a run, as reported to the progress callback.
type Progress struct {
	// Published counts generated events that JetStream acknowledged. It
	// excludes heartbeats and the events of revoke commands.
	Published int
	// Rate is Published per second of Elapsed.
	Rate    float64
	Elapsed time.Duration
	// Finished is true in the one report sent when generation reached a
	// limit of the Config.
	Finished bool
}

// Stats sums up a run.
type Stats struct {
	// Published counts generated events that JetStream acknowledged.
	Published int
	// Heartbeats counts published node.heartbeat events.
	Heartbeats int
	// Commands counts revoke commands carried out, once per node.
	Commands int
	// RevokeEvents counts the session.unbound, grant.revoked and fast.revoked
	// events published for commands.
	RevokeEvents int
	Elapsed      time.Duration
}

package ops

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Defaults of Config that have no constant elsewhere.
const (
	DefaultHTTPListen       = "127.0.0.1:9750"
	DefaultSnapshotInterval = time.Minute
	DefaultHeartbeatTimeout = 2 * time.Minute
	// MaxReplicas is the largest replica count that JetStream accepts for a
	// stream.
	MaxReplicas = 5
)

// Config is the configuration of `clientele serve`. DefaultConfig fills in
// the defaults, RegisterFlags binds the fields to flags, and ParseFlags
// reads the environment variables and the command line.
type Config struct {
	// DataDir is the directory of the embedded server's JetStream store and
	// other state.
	DataDir string
	// NATSListen is the HOST:PORT of the embedded nats-server.
	NATSListen string
	// NATS is the connection to an existing NATS server. An empty NATS.URL
	// starts the embedded server and connects to it in process.
	NATS NATSConfig
	// HTTPListen is the HOST:PORT of the metrics and health endpoints.
	HTTPListen string
	// LogFormat is text or json, and LogLevel is debug, info, warn or error.
	LogFormat, LogLevel string
	// SnapshotInterval is the time between two snapshots of the views.
	SnapshotInterval time.Duration
	// HeartbeatTimeout is how long a node may send no heartbeat before its
	// sessions are marked ended.
	HeartbeatTimeout time.Duration
	// Replicas is the replica count of the JetStream streams, from 1 to
	// MaxReplicas. More than 1 needs a NATS cluster.
	Replicas int
	// MaxAge is the age after which events are dropped from the event
	// stream. 0 keeps them forever.
	MaxAge time.Duration
}

// DefaultConfig returns the defaults of serve, reading XDG_DATA_HOME and
// HOME from the environment for DataDir. CLIENTELE_DATA_DIR, like every
// flag variable, is applied later by ApplyEnv.
func DefaultConfig() Config {
	return defaultConfig(os.LookupEnv)
}

func defaultConfig(lookup func(string) (string, bool)) Config {
	return Config{
		DataDir:          DefaultDataDir(lookup),
		NATSListen:       DefaultNATSListen,
		NATS:             NATSConfig{Name: "clientele serve"},
		HTTPListen:       DefaultHTTPListen,
		LogFormat:        LogFormatText,
		LogLevel:         "info",
		SnapshotInterval: DefaultSnapshotInterval,
		HeartbeatTimeout: DefaultHeartbeatTimeout,
		Replicas:         1,
	}
}

// DefaultDataDir returns $XDG_DATA_HOME/clientele, or else
// $HOME/.local/share/clientele, as read by lookup. It returns "" when
// neither variable is set to an absolute path, and Validate then reports
// the missing --data-dir.
func DefaultDataDir(lookup func(string) (string, bool)) string {
	if dir, ok := lookup("XDG_DATA_HOME"); ok && filepath.IsAbs(dir) {
		return filepath.Join(dir, "clientele")
	}
	if home, ok := lookup("HOME"); ok && filepath.IsAbs(home) {
		return filepath.Join(home, ".local", "share", "clientele")
	}
	return ""
}

// RegisterFlags binds the fields of c to the flags of serve on fs, with
// the current values as defaults. Each flag's usage names its environment
// variable.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	stringFlag(fs, &c.DataDir, "data-dir", "`directory` for the embedded NATS store and other state")
	valueFlag(fs, &funcValue{&c.NATSListen, parseHostPort}, "nats-listen", "`HOST:PORT` that the embedded NATS server listens on")
	c.NATS.registerFlags(fs, "NATS server `URL`, or a comma-separated list of URLs, to connect to; empty starts the embedded NATS server")
	valueFlag(fs, &funcValue{&c.HTTPListen, parseHostPort}, "http-listen", "`HOST:PORT` of the HTTP server for /metrics, /healthz and /readyz")
	valueFlag(fs, &funcValue{&c.LogFormat, parseLogFormatValue}, "log-format", "log `format`: text or json")
	valueFlag(fs, &funcValue{&c.LogLevel, parseLogLevelValue}, "log-level", "lowest `level` logged: debug, info, warn or error")
	valueFlag(fs, &durationValue{&c.SnapshotInterval, 1}, "snapshot-interval", "time between snapshots of the views, as a `duration` such as 1m")
	valueFlag(fs, &durationValue{&c.HeartbeatTimeout, 1}, "heartbeat-timeout", "time without a heartbeat after which a node's sessions are ended, as a `duration` such as 2m")
	valueFlag(fs, &intValue{&c.Replicas, 1, MaxReplicas}, "replicas", "`count` of replicas of the JetStream streams, from 1 to 5; more than 1 needs a NATS cluster")
	valueFlag(fs, &durationValue{&c.MaxAge, 0}, "max-age", "age after which events are dropped from the stream, as a `duration` such as 8760h; 0 keeps them forever")
}

// UseEmbedded reports whether serve starts the embedded nats-server, which
// it does when no NATS URL is set.
func (c Config) UseEmbedded() bool {
	return c.NATS.URL == ""
}

// EmbeddedConfig returns the embedded server's configuration, logging to
// logger.
func (c Config) EmbeddedConfig(logger *slog.Logger) EmbeddedConfig {
	return EmbeddedConfig{DataDir: c.DataDir, Listen: c.NATSListen, Logger: logger}
}

// Validate checks every field and returns all problems joined. Each error
// wraps ErrInvalidConfig and names the setting to fix.
func (c Config) Validate() error {
	var errs []error
	invalid := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}

	if c.UseEmbedded() {
		if c.DataDir == "" {
			invalid("--data-dir is empty and neither XDG_DATA_HOME nor HOME is set: pass --data-dir")
		}
		if _, _, err := splitHostPort(c.NATSListen); err != nil {
			invalid("--nats-listen %q: %v", c.NATSListen, err)
		}
		if c.Replicas > 1 {
			invalid("--replicas %d needs a NATS cluster: pass --nats-url, or --replicas 1 for the embedded server", c.Replicas)
		}
		if c.NATS.Creds != "" || c.NATS.NKey != "" || c.NATS.TLSCA != "" || c.NATS.TLSCert != "" || c.NATS.TLSKey != "" {
			invalid("--nats-creds, --nats-nkey and --nats-tls-* apply only with --nats-url: pass --nats-url or unset them")
		}
	} else if err := c.NATS.Validate(); err != nil {
		errs = append(errs, err)
	}

	if _, _, err := splitHostPort(c.HTTPListen); err != nil {
		invalid("--http-listen %q: %v", c.HTTPListen, err)
	}
	if _, err := parseLogFormat(c.LogFormat); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParseLogLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.SnapshotInterval <= 0 {
		invalid("--snapshot-interval %s: expected a positive duration", c.SnapshotInterval)
	}
	if c.HeartbeatTimeout <= 0 {
		invalid("--heartbeat-timeout %s: expected a positive duration", c.HeartbeatTimeout)
	}
	if c.Replicas < 1 || c.Replicas > MaxReplicas {
		invalid("--replicas %d: expected a whole number from 1 to %d", c.Replicas, MaxReplicas)
	}
	if c.MaxAge < 0 {
		invalid("--max-age %s: expected 0 or a positive duration", c.MaxAge)
	}
	return errors.Join(errs...)
}

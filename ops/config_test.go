package ops

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"sort"
	"strings"
	"testing"
	"time"
)

// parseServe parses args and env like `clientele serve` does.
func parseServe(args []string, env map[string]string) (Config, error) {
	cfg := defaultConfig(mapLookup(env))
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.RegisterFlags(fs)
	err := ParseFlags(fs, args, mapLookup(env))
	return cfg, err
}

func TestConfigPrecedence(t *testing.T) {
	home := map[string]string{"HOME": "/home/u"}
	with := func(extra map[string]string) map[string]string {
		env := map[string]string{"HOME": "/home/u"}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}

	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{"defaults", nil, home, func(t *testing.T, c Config) {
			want := Config{
				DataDir:          "/home/u/.local/share/clientele",
				NATSListen:       "127.0.0.1:4222",
				NATS:             NATSConfig{Name: "clientele serve"},
				HTTPListen:       "127.0.0.1:9750",
				LogFormat:        "text",
				LogLevel:         "info",
				SnapshotInterval: time.Minute,
				HeartbeatTimeout: 2 * time.Minute,
				Replicas:         1,
				MaxAge:           0,
			}
			if c != want {
				t.Errorf("config = %+v, want %+v", c, want)
			}
			if !c.UseEmbedded() {
				t.Error("UseEmbedded = false without a NATS URL")
			}
		}},
		{"XDG data home", nil, with(map[string]string{"XDG_DATA_HOME": "/xdg"}), func(t *testing.T, c Config) {
			checkString(t, "DataDir", c.DataDir, "/xdg/clientele")
		}},
		{"env data dir over XDG", nil, with(map[string]string{"XDG_DATA_HOME": "/xdg", "CLIENTELE_DATA_DIR": "/env"}), func(t *testing.T, c Config) {
			checkString(t, "DataDir", c.DataDir, "/env")
		}},
		{"flag data dir over env", []string{"--data-dir", "/flag"}, with(map[string]string{"CLIENTELE_DATA_DIR": "/env"}), func(t *testing.T, c Config) {
			checkString(t, "DataDir", c.DataDir, "/flag")
		}},
		{"NATS_URL fallback", nil, with(map[string]string{"NATS_URL": "nats://fallback:4222"}), func(t *testing.T, c Config) {
			checkString(t, "NATS.URL", c.NATS.URL, "nats://fallback:4222")
			if c.UseEmbedded() {
				t.Error("UseEmbedded = true with a NATS URL")
			}
		}},
		{"CLIENTELE_NATS_URL over NATS_URL", nil, with(map[string]string{"NATS_URL": "nats://fallback:4222", "CLIENTELE_NATS_URL": "nats://own:4222"}), func(t *testing.T, c Config) {
			checkString(t, "NATS.URL", c.NATS.URL, "nats://own:4222")
		}},
		{"empty CLIENTELE_NATS_URL counts as unset", nil, with(map[string]string{"NATS_URL": "nats://fallback:4222", "CLIENTELE_NATS_URL": ""}), func(t *testing.T, c Config) {
			checkString(t, "NATS.URL", c.NATS.URL, "nats://fallback:4222")
		}},
		{"flag NATS URL over both variables", []string{"--nats-url=nats://flag:4222"}, with(map[string]string{"NATS_URL": "nats://fallback:4222", "CLIENTELE_NATS_URL": "nats://own:4222"}), func(t *testing.T, c Config) {
			checkString(t, "NATS.URL", c.NATS.URL, "nats://flag:4222")
		}},
		{"NATS client files from env", nil, with(map[string]string{
			"CLIENTELE_NATS_CREDS": "/c", "CLIENTELE_NATS_NKEY": "/n", "CLIENTELE_NATS_TLS_CA": "/ca",
			"CLIENTELE_NATS_TLS_CERT": "/cert", "CLIENTELE_NATS_TLS_KEY": "/key",
		}), func(t *testing.T, c Config) {
			want := NATSConfig{Creds: "/c", NKey: "/n", TLSCA: "/ca", TLSCert: "/cert", TLSKey: "/key", Name: "clientele serve"}
			if c.NATS != want {
				t.Errorf("NATS = %+v, want %+v", c.NATS, want)
			}
		}},
		{"durations from env", nil, with(map[string]string{"CLIENTELE_SNAPSHOT_INTERVAL": "30s", "CLIENTELE_HEARTBEAT_TIMEOUT": "90s", "CLIENTELE_MAX_AGE": "720h"}), func(t *testing.T, c Config) {
			checkDuration(t, "SnapshotInterval", c.SnapshotInterval, 30*time.Second)
			checkDuration(t, "HeartbeatTimeout", c.HeartbeatTimeout, 90*time.Second)
			checkDuration(t, "MaxAge", c.MaxAge, 720*time.Hour)
		}},
		{"duration flag over env", []string{"--snapshot-interval", "5m", "--max-age=0"}, with(map[string]string{"CLIENTELE_SNAPSHOT_INTERVAL": "30s", "CLIENTELE_MAX_AGE": "720h"}), func(t *testing.T, c Config) {
			checkDuration(t, "SnapshotInterval", c.SnapshotInterval, 5*time.Minute)
			checkDuration(t, "MaxAge", c.MaxAge, 0)
		}},
		{"replicas and listen addresses", []string{"--replicas", "3"}, with(map[string]string{"CLIENTELE_REPLICAS": "5", "CLIENTELE_NATS_LISTEN": "127.0.0.1:14222", "CLIENTELE_HTTP_LISTEN": "[::1]:9751"}), func(t *testing.T, c Config) {
			if c.Replicas != 3 {
				t.Errorf("Replicas = %d, want 3", c.Replicas)
			}
			checkString(t, "NATSListen", c.NATSListen, "127.0.0.1:14222")
			checkString(t, "HTTPListen", c.HTTPListen, "[::1]:9751")
		}},
		{"log settings normalized", []string{"--log-format", "JSON"}, with(map[string]string{"CLIENTELE_LOG_FORMAT": "text", "CLIENTELE_LOG_LEVEL": "DEBUG"}), func(t *testing.T, c Config) {
			checkString(t, "LogFormat", c.LogFormat, "json")
			checkString(t, "LogLevel", c.LogLevel, "debug")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseServe(tt.args, tt.env)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func checkString(t *testing.T, field, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %q, want %q", field, got, want)
	}
}

func checkDuration(t *testing.T, field string, got, want time.Duration) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %s, want %s", field, got, want)
	}
}

func TestConfigBadEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"duration word", map[string]string{"CLIENTELE_SNAPSHOT_INTERVAL": "soon"}, []string{`CLIENTELE_SNAPSHOT_INTERVAL="soon"`, "expected a positive duration such as 30s"}},
		{"zero interval", map[string]string{"CLIENTELE_HEARTBEAT_TIMEOUT": "0s"}, []string{`CLIENTELE_HEARTBEAT_TIMEOUT="0s"`, "positive duration"}},
		{"duration without unit", map[string]string{"CLIENTELE_SNAPSHOT_INTERVAL": "60"}, []string{`CLIENTELE_SNAPSHOT_INTERVAL="60"`, "30s, 5m or 1h30m"}},
		{"negative max age", map[string]string{"CLIENTELE_MAX_AGE": "-1h"}, []string{`CLIENTELE_MAX_AGE="-1h"`, "or 0"}},
		{"replicas word", map[string]string{"CLIENTELE_REPLICAS": "three"}, []string{`CLIENTELE_REPLICAS="three"`, "whole number from 1 to 5"}},
		{"replicas too many", map[string]string{"CLIENTELE_REPLICAS": "7"}, []string{`CLIENTELE_REPLICAS="7"`, "from 1 to 5"}},
		{"log format", map[string]string{"CLIENTELE_LOG_FORMAT": "xml"}, []string{`CLIENTELE_LOG_FORMAT="xml"`, "expected text or json"}},
		{"log level", map[string]string{"CLIENTELE_LOG_LEVEL": "loud"}, []string{`CLIENTELE_LOG_LEVEL="loud"`, "debug, info, warn or error"}},
		{"listen without host", map[string]string{"CLIENTELE_NATS_LISTEN": "4222"}, []string{`CLIENTELE_NATS_LISTEN="4222"`, "HOST:PORT"}},
		{"listen with named port", map[string]string{"CLIENTELE_HTTP_LISTEN": "localhost:http"}, []string{`CLIENTELE_HTTP_LISTEN="localhost:http"`, "port from 0 to 65535"}},
		{"two bad variables", map[string]string{"CLIENTELE_REPLICAS": "0", "CLIENTELE_LOG_LEVEL": "loud"}, []string{"CLIENTELE_REPLICAS", "CLIENTELE_LOG_LEVEL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseServe(nil, tt.env)
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error %v does not wrap ErrInvalidConfig", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestConfigBadFlag(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"replicas zero", []string{"--replicas", "0"}, "expected a whole number from 1 to 5"},
		{"interval word", []string{"--heartbeat-timeout", "later"}, "expected a positive duration"},
		{"log level", []string{"--log-level=trace"}, "expected debug, info, warn or error"},
		{"listen", []string{"--http-listen", "9750"}, "expected HOST:PORT"},
		{"unknown flag", []string{"--nats-password", "x"}, "not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseServe(tt.args, nil)
			if err == nil {
				t.Fatal("parse returned no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestConfigFlagsHaveHelp(t *testing.T) {
	cfg := defaultConfig(mapLookup(map[string]string{"HOME": "/home/u"}))
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.RegisterFlags(fs)

	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		names = append(names, f.Name)
		if !strings.Contains(f.Usage, "(env "+EnvName(f.Name)) {
			t.Errorf("--%s usage %q does not name %s", f.Name, f.Usage, EnvName(f.Name))
		}
		if _, isDuration := f.Value.(*durationValue); isDuration && !strings.Contains(f.Usage, "`duration` such as") {
			t.Errorf("--%s usage %q does not give the duration unit", f.Name, f.Usage)
		}
	})
	want := []string{
		"data-dir", "heartbeat-timeout", "http-listen", "log-format", "log-level", "max-age",
		"nats-creds", "nats-listen", "nats-nkey", "nats-tls-ca", "nats-tls-cert", "nats-tls-key",
		"nats-url", "replicas", "snapshot-interval",
	}
	sort.Strings(names)
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("flags = %v, want %v", names, want)
	}
	if usage := fs.Lookup("nats-url").Usage; !strings.Contains(usage, "NATS_URL") || !strings.Contains(usage, "embedded") {
		t.Errorf("--nats-url usage %q does not name NATS_URL and the embedded server", usage)
	}

	var help bytes.Buffer
	fs.SetOutput(&help)
	fs.PrintDefaults()
	for _, want := range []string{"-http-listen HOST:PORT", "(default 127.0.0.1:9750)", "-snapshot-interval duration", "-nats-creds file"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("help has no %q:\n%s", want, help.String())
		}
	}
}

func TestNATSConfigRegisterFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"default", nil, nil, "nats://127.0.0.1:4222"},
		{"NATS_URL", nil, map[string]string{"NATS_URL": "nats://fallback:4222"}, "nats://fallback:4222"},
		{"CLIENTELE_NATS_URL", nil, map[string]string{"NATS_URL": "nats://fallback:4222", "CLIENTELE_NATS_URL": "nats://own:4222"}, "nats://own:4222"},
		{"flag", []string{"--nats-url", "nats://flag:4222"}, map[string]string{"CLIENTELE_NATS_URL": "nats://own:4222"}, "nats://flag:4222"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultNATSConfig()
			fs := flag.NewFlagSet("list", flag.ContinueOnError)
			cfg.RegisterFlags(fs)
			if err := ParseFlags(fs, tt.args, mapLookup(tt.env)); err != nil {
				t.Fatal(err)
			}
			checkString(t, "URL", cfg.URL, tt.want)
			if fs.Lookup("data-dir") != nil {
				t.Error("NATSConfig registers --data-dir")
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	valid := defaultConfig(mapLookup(map[string]string{"HOME": "/home/u"}))
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string // empty for a valid config
	}{
		{"defaults", func(c *Config) {}, ""},
		{"cluster with three replicas", func(c *Config) { c.NATS.URL = "nats://a:4222,nats://b:4222"; c.Replicas = 3 }, ""},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "pass --data-dir"},
		{"replicas on embedded", func(c *Config) { c.Replicas = 3 }, "needs a NATS cluster"},
		{"creds on embedded", func(c *Config) { c.NATS.Creds = "/c" }, "apply only with --nats-url"},
		{"bad NATS listen", func(c *Config) { c.NATSListen = "localhost" }, "--nats-listen"},
		{"bad NATS listen ignored with URL", func(c *Config) { c.NATSListen = "x"; c.NATS.URL = DefaultNATSURL }, ""},
		{"bad URL", func(c *Config) { c.NATS.URL = "ftp://x" }, `scheme "ftp"`},
		{"bad HTTP listen", func(c *Config) { c.HTTPListen = ":x" }, "--http-listen"},
		{"bad log format", func(c *Config) { c.LogFormat = "" }, "log format"},
		{"bad log level", func(c *Config) { c.LogLevel = "" }, "log level"},
		{"zero snapshot interval", func(c *Config) { c.SnapshotInterval = 0 }, "--snapshot-interval"},
		{"negative heartbeat timeout", func(c *Config) { c.HeartbeatTimeout = -time.Second }, "--heartbeat-timeout"},
		{"zero replicas", func(c *Config) { c.Replicas = 0 }, "--replicas 0"},
		{"negative max age", func(c *Config) { c.MaxAge = -time.Hour }, "--max-age"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.modify(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error %v does not wrap ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestDefaultDataDir(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"XDG", map[string]string{"XDG_DATA_HOME": "/xdg", "HOME": "/home/u"}, "/xdg/clientele"},
		{"HOME", map[string]string{"HOME": "/home/u"}, "/home/u/.local/share/clientele"},
		{"relative XDG ignored", map[string]string{"XDG_DATA_HOME": "rel", "HOME": "/home/u"}, "/home/u/.local/share/clientele"},
		{"nothing set", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkString(t, "DefaultDataDir", DefaultDataDir(mapLookup(tt.env)), tt.want)
		})
	}
}

func TestEnvName(t *testing.T) {
	tests := []struct{ flag, want string }{
		{"nats-url", "CLIENTELE_NATS_URL"},
		{"data-dir", "CLIENTELE_DATA_DIR"},
		{"nats-tls-cert", "CLIENTELE_NATS_TLS_CERT"},
		{"replicas", "CLIENTELE_REPLICAS"},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			checkString(t, "EnvName", EnvName(tt.flag), tt.want)
		})
	}
}

func TestConfigEmbeddedConfig(t *testing.T) {
	c := defaultConfig(mapLookup(map[string]string{"HOME": "/home/u"}))
	logger, _ := newTestLogger()
	got := c.EmbeddedConfig(logger)
	if got.DataDir != c.DataDir || got.Listen != c.NATSListen || got.Logger != logger {
		t.Errorf("EmbeddedConfig = %+v, want data dir %q, listen %q and the logger", got, c.DataDir, c.NATSListen)
	}
}

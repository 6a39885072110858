package ops

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The flag.Value types below check a value when it is set, so that a flag
// and its environment variable are parsed by the same code and get the same
// error. Their errors state the expected form, because the flag package and
// ApplyEnv already name the flag or variable and the value.

// durationValue is a time.Duration of at least min.
type durationValue struct {
	p   *time.Duration
	min time.Duration
}

func (v *durationValue) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return v.p.String()
}

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < v.min {
		if v.min > 0 {
			return errors.New("expected a positive duration such as 30s, 5m or 1h30m")
		}
		return errors.New("expected a duration such as 30s, 5m or 1h30m, or 0")
	}
	*v.p = d
	return nil
}

// intValue is an int from min to max.
type intValue struct {
	p        *int
	min, max int
}

func (v *intValue) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return strconv.Itoa(*v.p)
}

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < v.min || n > v.max {
		return fmt.Errorf("expected a whole number from %d to %d", v.min, v.max)
	}
	*v.p = n
	return nil
}

// funcValue is a string checked by a parse function that returns the
// value to store, such as a log level in lower case.
type funcValue struct {
	p     *string
	parse func(string) (string, error)
}

func (v *funcValue) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return *v.p
}

func (v *funcValue) Set(s string) error {
	parsed, err := v.parse(s)
	if err != nil {
		return err
	}
	*v.p = parsed
	return nil
}

// parseHostPort returns addr if it is a HOST:PORT listen address.
func parseHostPort(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if _, _, err := splitHostPort(addr); err != nil {
		return "", err
	}
	return addr, nil
}

func parseLogFormatValue(s string) (string, error) {
	format, err := parseLogFormat(s)
	if err != nil {
		return "", errors.New(expectedLogFormat)
	}
	return format, nil
}

func parseLogLevelValue(s string) (string, error) {
	if _, err := ParseLogLevel(s); err != nil {
		return "", errors.New(expectedLogLevel)
	}
	return strings.ToLower(strings.TrimSpace(s)), nil
}

// stringFlag registers a string flag whose usage names its environment
// variable.
func stringFlag(fs *flag.FlagSet, p *string, name, usage string) {
	fs.StringVar(p, name, *p, withEnv(name, usage))
}

// valueFlag registers value under name with usage that names its
// environment variable.
func valueFlag(fs *flag.FlagSet, value flag.Value, name, usage string) {
	fs.Var(value, name, withEnv(name, usage))
}

func withEnv(name, usage string) string {
	env := EnvName(name)
	if fallback, ok := envFallbacks[name]; ok {
		return fmt.Sprintf("%s (env %s, then %s)", usage, env, fallback)
	}
	return fmt.Sprintf("%s (env %s)", usage, env)
}

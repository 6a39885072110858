package main

import (
	"fmt"
	"strings"
	"time"
)

// timeArgForms describes the accepted forms of a time argument, for errors
// and help text.
const timeArgForms = "an RFC 3339 time such as 2026-12-04T10:00:00Z, a date such as 2026-12-04 (midnight UTC), a duration before now such as -2h or -90m, or now"

// parseTimeArg parses the time argument value of name, such as --at, in
// one of timeArgForms, relative to now.
func parseTimeArg(name, value string, now time.Time) (time.Time, error) {
	v := strings.TrimSpace(value)
	switch {
	case v == "":
		return time.Time{}, fmt.Errorf("%s is empty: expected %s", name, timeArgForms)
	case v == "now":
		return now.UTC(), nil
	case strings.HasPrefix(v, "-"):
		d, err := time.ParseDuration(v)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid duration %q for %s: expected a negative Go duration such as -2h or -1h30m", value, name)
		}
		return now.Add(d).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if _, err := time.ParseDuration(v); err == nil {
		return time.Time{}, fmt.Errorf("invalid time %q for %s: a duration needs a minus sign, as in -%s, because it counts back from now", value, name, v)
	}
	return time.Time{}, fmt.Errorf("invalid time %q for %s: expected %s", value, name, timeArgForms)
}

// timeFlag is a flag.Value that parses a time argument with parseTimeArg,
// relative to the time of parsing.
type timeFlag struct {
	name string
	t    time.Time
	set  bool
	now  func() time.Time
}

func newTimeFlag(name string) *timeFlag {
	return &timeFlag{name: "--" + name, now: time.Now}
}

func (f *timeFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return f.t.Format(time.RFC3339Nano)
}

func (f *timeFlag) Set(v string) error {
	t, err := parseTimeArg(f.name, v, f.now())
	if err != nil {
		return err
	}
	f.t, f.set = t, true
	return nil
}

package ops

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Log formats accepted by NewLogger and --log-format.
const (
	LogFormatText = "text"
	LogFormatJSON = "json"
)

// LevelTrace is the slog level of nats-server trace lines, one step below
// slog.LevelDebug.
const LevelTrace = slog.LevelDebug - 4

// NewLogger returns a logger that writes records of at least level to w, as
// logfmt-style text (format "text") or as one JSON object per line (format
// "json"). The level is one of debug, info, warn or error. Both values are
// case-insensitive, and a value outside these lists returns an error that
// wraps ErrInvalidConfig.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	lvl, err := ParseLogLevel(level)
	if err != nil {
		return nil, err
	}
	format, err = parseLogFormat(format)
	if err != nil {
		return nil, err
	}

	opts := &slog.HandlerOptions{Level: lvl}
	if format == LogFormatJSON {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// ParseLogLevel returns the slog level named by s: debug, info, warn or
// error, in any case. Any other value returns an error that wraps
// ErrInvalidConfig.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%w: log level %q: %s", ErrInvalidConfig, s, expectedLogLevel)
}

func parseLogFormat(s string) (string, error) {
	format := strings.ToLower(strings.TrimSpace(s))
	if format != LogFormatText && format != LogFormatJSON {
		return "", fmt.Errorf("%w: log format %q: %s", ErrInvalidConfig, s, expectedLogFormat)
	}
	return format, nil
}

const (
	expectedLogLevel  = "expected debug, info, warn or error"
	expectedLogFormat = "expected text or json"
)

package ops

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// serverLogger is a nats-server Logger (server.Logger) that writes to a
// *slog.Logger. The server formats its own lines and has no structured
// fields, so each line becomes the record message, and the records carry
// component=nats-server.
type serverLogger struct {
	logger *slog.Logger
	// fatal, if set, receives the text of every Fatalf line. The server
	// calls Fatalf when it cannot start and expects the process to exit.
	fatal func(msg string)
}

func newServerLogger(logger *slog.Logger, fatal func(msg string)) serverLogger {
	return serverLogger{logger: logger.With("component", "nats-server"), fatal: fatal}
}

func (l serverLogger) Noticef(format string, v ...any) { l.log(slog.LevelInfo, format, v) }
func (l serverLogger) Warnf(format string, v ...any)   { l.log(slog.LevelWarn, format, v) }
func (l serverLogger) Errorf(format string, v ...any)  { l.log(slog.LevelError, format, v) }
func (l serverLogger) Debugf(format string, v ...any)  { l.log(slog.LevelDebug, format, v) }
func (l serverLogger) Tracef(format string, v ...any)  { l.log(LevelTrace, format, v) }

// Fatalf logs at error level and reports the line to l.fatal. Unlike the
// server's own loggers it does not exit the process, so that StartEmbedded
// can return the failure as an error.
func (l serverLogger) Fatalf(format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	l.logger.Error(msg)
	if l.fatal != nil {
		l.fatal(msg)
	}
}

func (l serverLogger) log(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if !l.logger.Enabled(ctx, level) {
		return
	}
	l.logger.Log(ctx, level, strings.TrimSpace(fmt.Sprintf(format, v...)))
}

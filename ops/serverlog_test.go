package ops

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestServerLoggerLevels(t *testing.T) {
	tests := []struct {
		name      string
		minLevel  slog.Level
		log       func(serverLogger)
		wantLevel string // empty when the line is filtered out
	}{
		{"notice is info", slog.LevelInfo, func(l serverLogger) { l.Noticef("n %d", 1) }, "level=INFO"},
		{"warn is warn", slog.LevelInfo, func(l serverLogger) { l.Warnf("w %d", 1) }, "level=WARN"},
		{"error is error", slog.LevelInfo, func(l serverLogger) { l.Errorf("e %d", 1) }, "level=ERROR"},
		{"debug shown at debug", slog.LevelDebug, func(l serverLogger) { l.Debugf("d %d", 1) }, "level=DEBUG"},
		{"debug hidden at info", slog.LevelInfo, func(l serverLogger) { l.Debugf("d %d", 1) }, ""},
		{"trace shown at trace", LevelTrace, func(l serverLogger) { l.Tracef("t %d", 1) }, "level=DEBUG-4"},
		{"trace hidden at debug", slog.LevelDebug, func(l serverLogger) { l.Tracef("t %d", 1) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := &logBuffer{}
			logger := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: tt.minLevel}))
			tt.log(newServerLogger(logger, nil))

			out := buf.String()
			if tt.wantLevel == "" {
				if out != "" {
					t.Errorf("output = %q, want none", out)
				}
				return
			}
			if !strings.Contains(out, tt.wantLevel+" ") {
				t.Errorf("output %q has no %q", out, tt.wantLevel)
			}
			if !strings.Contains(out, `msg="`) || !strings.Contains(out, ` 1"`) {
				t.Errorf("output %q does not carry the formatted line as message", out)
			}
			if !strings.Contains(out, "component=nats-server") {
				t.Errorf("output %q has no component attribute", out)
			}
		})
	}
}

func TestServerLoggerFatalDoesNotExit(t *testing.T) {
	logger, buf := newTestLogger()
	var got []string
	l := newServerLogger(logger, func(msg string) { got = append(got, msg) })

	l.Fatalf("cannot start: %s", "reason")

	if len(got) != 1 || got[0] != "cannot start: reason" {
		t.Errorf("fatal callback got %q, want one %q", got, "cannot start: reason")
	}
	if !strings.Contains(buf.String(), "level=ERROR") {
		t.Errorf("fatal line not logged at error level: %q", buf.String())
	}
}

// The address is taken after the check of StartEmbedded, so the server
// itself fails to listen and reports it through Fatalf.
func TestWaitReadyReportsFatal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	logger, _ := newTestLogger()
	cfg := EmbeddedConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:" + strconv.Itoa(port), Logger: logger}.withDefaults()
	srv, fatal, err := newServer(cfg, "127.0.0.1", port)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	defer srv.Shutdown()

	start := time.Now()
	err = waitReady(context.Background(), srv, fatal, 10*time.Second)
	if !errors.Is(err, ErrEmbeddedStart) {
		t.Fatalf("waitReady error %v does not wrap ErrEmbeddedStart", err)
	}
	if !strings.Contains(err.Error(), strconv.Itoa(port)) {
		t.Errorf("error %q does not name port %d", err, port)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("waitReady took %s, want it to stop at the fatal line", elapsed)
	}
}

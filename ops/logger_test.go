package ops

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestNewLoggerFormats(t *testing.T) {
	tests := []struct {
		name, format string
		check        func(t *testing.T, line string)
	}{
		{"text", "text", func(t *testing.T, line string) {
			if !strings.Contains(line, `level=INFO msg="user logged in" user=alice@example.test`) {
				t.Errorf("text line = %q", line)
			}
		}},
		{"json", "json", func(t *testing.T, line string) {
			var record map[string]any
			if err := json.Unmarshal([]byte(line), &record); err != nil {
				t.Fatalf("line %q is not JSON: %v", line, err)
			}
			if record["msg"] != "user logged in" || record["user"] != "alice@example.test" || record["level"] != "INFO" {
				t.Errorf("JSON record = %v", record)
			}
		}},
		{"upper case", "JSON", func(t *testing.T, line string) {
			if !strings.HasPrefix(line, "{") {
				t.Errorf("line %q is not JSON", line)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger, err := NewLogger(&buf, tt.format, "info")
			if err != nil {
				t.Fatal(err)
			}
			logger.Info("user logged in", "user", "alice@example.test")
			tt.check(t, strings.TrimSpace(buf.String()))
		})
	}
}

func TestNewLoggerLevels(t *testing.T) {
	tests := []struct {
		level       string
		wantEnabled slog.Level
		wantHidden  slog.Level
	}{
		{"debug", slog.LevelDebug, LevelTrace},
		{"info", slog.LevelInfo, slog.LevelDebug},
		{"Warn", slog.LevelWarn, slog.LevelInfo},
		{" error ", slog.LevelError, slog.LevelWarn},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			var buf bytes.Buffer
			logger, err := NewLogger(&buf, "text", tt.level)
			if err != nil {
				t.Fatal(err)
			}
			logger.Log(t.Context(), tt.wantHidden, "hidden")
			logger.Log(t.Context(), tt.wantEnabled, "shown")
			out := buf.String()
			if strings.Contains(out, "hidden") {
				t.Errorf("record below %s logged: %q", tt.level, out)
			}
			if !strings.Contains(out, "shown") {
				t.Errorf("record at %s not logged: %q", tt.level, out)
			}
		})
	}
}

func TestNewLoggerInvalid(t *testing.T) {
	tests := []struct {
		name, format, level string
		want                []string
	}{
		{"unknown format", "yaml", "info", []string{`log format "yaml"`, "text or json"}},
		{"empty format", "", "info", []string{`log format ""`}},
		{"unknown level", "text", "verbose", []string{`log level "verbose"`, "debug, info, warn or error"}},
		{"level with offset", "text", "info+2", []string{`log level "info+2"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, err := NewLogger(&bytes.Buffer{}, tt.format, tt.level)
			if err == nil {
				t.Fatalf("NewLogger returned no error and %v", logger)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

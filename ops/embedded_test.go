package ops

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func startTestEmbedded(t *testing.T, dir, listen string) (*Embedded, *logBuffer) {
	t.Helper()
	logger, buf := newTestLogger()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e, err := StartEmbedded(ctx, EmbeddedConfig{DataDir: dir, Listen: listen, Logger: logger})
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	t.Cleanup(func() { shutdown(t, e) })
	return e, buf
}

func shutdown(t *testing.T, e *Embedded) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestEmbeddedStartsWithJetStream(t *testing.T) {
	dir := t.TempDir()
	e, logs := startTestEmbedded(t, dir, "127.0.0.1:0")

	host, _, err := net.SplitHostPort(e.Addr().String())
	if err != nil || host != "127.0.0.1" {
		t.Errorf("Addr = %v, want a loopback address", e.Addr())
	}
	if !strings.HasPrefix(e.ClientURL(), "nats://127.0.0.1:") || strings.HasSuffix(e.ClientURL(), ":0") {
		t.Errorf("ClientURL = %q, want nats://127.0.0.1 with the chosen port", e.ClientURL())
	}
	if want := filepath.Join(dir, "jetstream"); e.StoreDir() != want {
		t.Errorf("StoreDir = %q, want %q", e.StoreDir(), want)
	}
	if fi, err := os.Stat(e.StoreDir()); err != nil || !fi.IsDir() {
		t.Errorf("store directory %s: %v", e.StoreDir(), err)
	}

	nc, err := nats.Connect(e.ClientURL())
	if err != nil {
		t.Fatalf("connect over TCP: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Errorf("JetStream account info: %v", err)
	}

	if !strings.Contains(logs.String(), "component=nats-server") {
		t.Errorf("server log lines missing from the slog logger; log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "embedded nats-server ready") {
		t.Errorf("log has no ready record; log:\n%s", logs.String())
	}
}

func TestEmbeddedRestartKeepsStream(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()

	first, _ := startTestEmbedded(t, dir, "127.0.0.1:0")
	nc, err := first.Connect(ctx, "restart test", nil)
	if err != nil {
		t.Fatalf("in-process connect: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEEP", Subjects: []string{"keep.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	for _, body := range []string{"one", "two", "three"} {
		if _, err := js.Publish(ctx, "keep.x", []byte(body)); err != nil {
			t.Fatalf("publish %s: %v", body, err)
		}
	}
	nc.Close()
	shutdown(t, first)

	second, _ := startTestEmbedded(t, dir, "127.0.0.1:0")
	nc2, err := nats.Connect(second.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	js2, err := jetstream.New(nc2)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js2.Stream(ctx, "KEEP")
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Errorf("messages after restart = %d, want 3", info.State.Msgs)
	}
	msg, err := stream.GetMsg(ctx, 2)
	if err != nil {
		t.Fatalf("get message 2: %v", err)
	}
	if string(msg.Data) != "two" {
		t.Errorf("message 2 = %q, want %q", msg.Data, "two")
	}
}

func TestEmbeddedPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()

	start := time.Now()
	e, err := StartEmbedded(context.Background(), EmbeddedConfig{DataDir: t.TempDir(), Listen: addr})
	if err == nil {
		shutdown(t, e)
		t.Fatal("StartEmbedded on a used address returned no error")
	}
	if !errors.Is(err, ErrListen) {
		t.Errorf("error %v does not wrap ErrListen", err)
	}
	for _, want := range []string{addr, "--nats-listen", "--nats-url", "address already in use"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("port-in-use error took %s, want it at once", elapsed)
	}
}

func TestEmbeddedInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  EmbeddedConfig
		want string
	}{
		{"empty data dir", EmbeddedConfig{Listen: "127.0.0.1:0"}, "--data-dir"},
		{"listen without port", EmbeddedConfig{DataDir: t.TempDir(), Listen: "127.0.0.1"}, "HOST:PORT"},
		{"listen port too large", EmbeddedConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:70000"}, "70000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := StartEmbedded(context.Background(), tt.cfg)
			if err == nil {
				shutdown(t, e)
				t.Fatal("StartEmbedded returned no error")
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestEmbeddedStartCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e, err := StartEmbedded(ctx, EmbeddedConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err == nil {
		shutdown(t, e)
		t.Fatal("StartEmbedded with a canceled context returned no error")
	}
	if !errors.Is(err, ErrEmbeddedStart) || !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap ErrEmbeddedStart and context.Canceled", err)
	}
}

func TestEmbeddedShutdownTwice(t *testing.T) {
	logger, logs := newTestLogger()
	e, err := StartEmbedded(context.Background(), EmbeddedConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := e.Connect(context.Background(), "shutdown test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	shutdown(t, e)
	shutdown(t, e)

	if e.Server().Running() {
		t.Error("server still running after Shutdown")
	}
	if n := strings.Count(logs.String(), "embedded nats-server stopped"); n != 1 {
		t.Errorf("stopped records = %d, want 1", n)
	}
	if _, err := nats.Connect(e.ClientURL(), nats.Timeout(time.Second)); err == nil {
		t.Error("connect after Shutdown succeeded")
	}
}

func TestEmbeddedShutdownContextEnded(t *testing.T) {
	e, _ := startTestEmbedded(t, t.TempDir(), "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	// The first call either finishes at once or reports the ended context,
	// and the shutdown it began completes for the second call.
	if err := e.Shutdown(ctx); err != nil && !errors.Is(err, ErrShutdownTimeout) {
		t.Errorf("error %v does not wrap ErrShutdownTimeout", err)
	}
	shutdown(t, e)
	if e.Server().Running() {
		t.Error("server still running after Shutdown")
	}
}

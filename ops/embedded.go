package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Defaults of EmbeddedConfig.
const (
	DefaultNATSListen   = "127.0.0.1:4222"
	DefaultEmbeddedName = "clientele"
	DefaultReadyTimeout = 30 * time.Second
)

// EmbeddedConfig sets up the embedded nats-server. The zero value, apart
// from DataDir, gives a server named "clientele" on 127.0.0.1:4222 that
// logs nothing.
type EmbeddedConfig struct {
	// DataDir is the data directory. The JetStream file store is
	// DataDir/jetstream, created with mode 0700 when missing. Required.
	DataDir string
	// Listen is the HOST:PORT for client connections. Port 0 or -1 picks a
	// free port. Empty means 127.0.0.1:4222.
	Listen string
	// ServerName is the server's name in its logs and monitoring. Empty
	// means "clientele".
	ServerName string
	// Logger receives the server's log lines. Nil discards them.
	Logger *slog.Logger
	// Debug and Trace turn on the server's debug lines (at slog.LevelDebug)
	// and its protocol trace lines (at LevelTrace).
	Debug, Trace bool
	// ReadyTimeout bounds the wait for the server to accept connections,
	// which includes recovering the JetStream store. 0 means 30 seconds.
	ReadyTimeout time.Duration
}

// Embedded is a nats-server with JetStream running in this process. Its
// methods are safe for concurrent use.
type Embedded struct {
	srv      *server.Server
	logger   *slog.Logger
	storeDir string

	stopOnce sync.Once
	stopped  chan struct{}
}

// StartEmbedded starts a nats-server with JetStream and a file store under
// cfg.DataDir, and blocks until it accepts connections, ctx ends or
// cfg.ReadyTimeout passes. An address that is in use returns an error that
// wraps ErrListen and names the address. Other start failures wrap
// ErrEmbeddedStart. On error nothing is left running.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Embedded, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEmbeddedStart, context.Cause(ctx))
	}
	cfg = cfg.withDefaults()
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("%w: data directory is empty: pass --data-dir", ErrInvalidConfig)
	}
	host, port, err := splitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("%w: NATS listen address %q: %w", ErrInvalidConfig, cfg.Listen, err)
	}

	storeDir := filepath.Join(cfg.DataDir, server.JetStreamStoreDir)
	if err := os.MkdirAll(storeDir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: create JetStream store directory: %w: check the permissions of the data directory or pass another --data-dir", ErrEmbeddedStart, err)
	}
	if port > 0 {
		if err := checkListen(cfg.Listen); err != nil {
			return nil, err
		}
	}

	srv, fatal, err := newServer(cfg, host, port)
	if err != nil {
		return nil, err
	}
	go srv.Start()

	if err := waitReady(ctx, srv, fatal, cfg.ReadyTimeout); err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, err
	}

	e := &Embedded{srv: srv, logger: cfg.Logger, storeDir: storeDir, stopped: make(chan struct{})}
	e.logger.Info("embedded nats-server ready", "url", srv.ClientURL(), "store_dir", storeDir)
	return e, nil
}

func (cfg EmbeddedConfig) withDefaults() EmbeddedConfig {
	if cfg.Listen == "" {
		cfg.Listen = DefaultNATSListen
	}
	if cfg.ServerName == "" {
		cfg.ServerName = DefaultEmbeddedName
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	return cfg
}

// checkListen binds addr and closes it at once, so that an address in use
// returns an error naming it instead of a server that never gets ready.
// Another process can still take the address before the server binds it,
// and waitReady reports that case from the server's fatal log line.
func checkListen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: embedded nats-server on %s: %w: stop the program that uses this address, pass --nats-listen with a free HOST:PORT, or pass --nats-url to use the NATS server already there", ErrListen, addr, err)
	}
	return ln.Close()
}

// newServer creates the server and routes its log to cfg.Logger. The
// returned channel receives the first fatal log line.
func newServer(cfg EmbeddedConfig, host string, port int) (*server.Server, <-chan string, error) {
	if port == 0 {
		// The server reads port 0 as its default port 4222 and -1 as a free one.
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.DataDir,
		NoSigs:     true,
		Debug:      cfg.Debug,
		Trace:      cfg.Trace,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrEmbeddedStart, err)
	}

	fatal := make(chan string, 1)
	report := func(msg string) {
		select {
		case fatal <- msg:
		default:
		}
	}
	srv.SetLoggerV2(newServerLogger(cfg.Logger, report), cfg.Debug, cfg.Trace, false)
	return srv, fatal, nil
}

// waitReady polls srv until it accepts connections with JetStream enabled.
func waitReady(ctx context.Context, srv *server.Server, fatal <-chan string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !srv.ReadyForConnections(50 * time.Millisecond) {
		select {
		case msg := <-fatal:
			return fmt.Errorf("%w: %s", ErrEmbeddedStart, msg)
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrEmbeddedStart, context.Cause(ctx))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: not ready for connections after %s: see the nats-server log lines before this error", ErrEmbeddedStart, timeout)
		}
	}
	if !srv.JetStreamEnabled() {
		return fmt.Errorf("%w: JetStream is not enabled: see the nats-server log lines before this error", ErrEmbeddedStart)
	}
	return nil
}

// ClientURL returns the URL that clients connect to, with the port the
// server listens on when a free port was requested.
func (e *Embedded) ClientURL() string {
	return e.srv.ClientURL()
}

// Addr returns the address the server listens on.
func (e *Embedded) Addr() net.Addr {
	return e.srv.Addr()
}

// StoreDir returns the JetStream store directory, DataDir/jetstream.
func (e *Embedded) StoreDir() string {
	return e.storeDir
}

// Server returns the underlying nats-server, for monitoring and tests.
func (e *Embedded) Server() *server.Server {
	return e.srv
}

// Connect opens a connection to the server that bypasses the network
// (nats.InProcessServer), with the reconnect and logging behaviour of the
// package function Connect. The name is the connection name that the server
// shows. The caller closes the connection, before Shutdown when it can.
func (e *Embedded) Connect(ctx context.Context, name string, logger *slog.Logger) (*nats.Conn, error) {
	cfg := NATSConfig{URL: e.ClientURL(), Name: name}
	return connect(ctx, cfg, logger, nats.InProcessServer(e.srv))
}

// Shutdown stops the server, closing its client connections and flushing
// the store, and blocks until it has stopped or ctx ends. When ctx ends
// first it returns an error that wraps ErrShutdownTimeout, and the shutdown
// goes on in the background. Calling Shutdown again waits for the same
// shutdown and returns nil once it is complete.
func (e *Embedded) Shutdown(ctx context.Context) error {
	e.stopOnce.Do(func() {
		go func() {
			e.srv.Shutdown()
			e.srv.WaitForShutdown()
			e.logger.Info("embedded nats-server stopped")
			close(e.stopped)
		}()
	})

	select {
	case <-e.stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: embedded nats-server: %w", ErrShutdownTimeout, context.Cause(ctx))
	}
}

// splitHostPort splits a listen address into host and port. The port is a
// number from 0 to 65535, or -1, which like 0 picks a free port.
func splitHostPort(addr string) (string, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, errHostPort
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, errHostPort
	}
	return host, port, nil
}

var errHostPort = errors.New("expected HOST:PORT such as 127.0.0.1:4222, with a port from 0 to 65535")

package ops

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Reconnect backoff: the wait after every server of the URL list failed
// starts at reconnectBase, doubles per round up to reconnectMax, and gets up
// to a quarter more at random so that many clients do not return together.
const (
	reconnectBase = 250 * time.Millisecond
	reconnectMax  = 10 * time.Second
	// reconnectLogEvery limits the "nats reconnect failed" records to one
	// per interval, each with the count of failures since the last one.
	reconnectLogEvery = 30 * time.Second
)

// Connect opens a NATS connection as set by cfg and blocks until it is
// established, it fails, or ctx ends. The connection reconnects forever
// with backoff, and logs disconnects, reconnects, closing and asynchronous
// errors to logger (nil discards them). An invalid cfg returns an error
// that wraps ErrInvalidConfig. A failed connection returns an error that
// wraps ErrConnect and the nats.go error, names the URL without user
// information, and names the settings to check. The caller closes the connection.
func Connect(ctx context.Context, cfg NATSConfig, logger *slog.Logger) (*nats.Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkFiles(cfg); err != nil {
		return nil, err
	}

	auth, err := authOptions(cfg)
	if err != nil {
		return nil, err
	}
	return connect(ctx, cfg, logger, auth...)
}

// connect dials with the options of cfg and extra. The nats.go client has
// no context, so the dial runs on its own goroutine, and a connection that
// arrives after ctx ended is closed there.
func connect(ctx context.Context, cfg NATSConfig, logger *slog.Logger, extra ...nats.Option) (*nats.Conn, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := append(baseOptions(cfg, logger), extra...)

	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(cfg.URL, opts...)
		done <- result{nc, err}
	}()

	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		go func() {
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		r.err = context.Cause(ctx)
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %s: %w: %s", ErrConnect, redactURLs(cfg.URL), r.err, connectHint(r.err))
	}

	logger.Info("nats connected", "url", redactURL(r.nc.ConnectedUrl()), "server_id", r.nc.ConnectedServerId(), "name", cfg.Name)
	return r.nc, nil
}

// checkFiles reports a missing or unreadable credentials, NKey or TLS file
// with the flag that names it, before nats.go reports it in its own words.
func checkFiles(cfg NATSConfig) error {
	files := []struct{ flag, path string }{
		{"--nats-creds", cfg.Creds},
		{"--nats-nkey", cfg.NKey},
		{"--nats-tls-ca", cfg.TLSCA},
		{"--nats-tls-cert", cfg.TLSCert},
		{"--nats-tls-key", cfg.TLSKey},
	}
	var errs []error
	for _, f := range files {
		if f.path == "" {
			continue
		}
		if fh, err := os.Open(f.path); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, f.flag, err))
		} else {
			fh.Close()
		}
	}
	return errors.Join(errs...)
}

func authOptions(cfg NATSConfig) ([]nats.Option, error) {
	var opts []nats.Option
	if cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	if cfg.NKey != "" {
		opt, err := nats.NkeyOptionFromSeed(cfg.NKey)
		if err != nil {
			return nil, fmt.Errorf("%w: --nats-nkey %s: %w: expected a file with an NKey user seed (SU...)", ErrInvalidConfig, cfg.NKey, err)
		}
		opts = append(opts, opt)
	}
	if cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCA))
	}
	if cfg.TLSCert != "" {
		opts = append(opts, nats.ClientCert(cfg.TLSCert, cfg.TLSKey))
	}
	return opts, nil
}

// baseOptions returns the options every clientele connection shares: the
// name, endless reconnects with backoff, and the logging handlers.
func baseOptions(cfg NATSConfig, logger *slog.Logger) []nats.Option {
	reconnects := &reconnectLog{logger: logger}
	return []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", "error", err)
				return
			}
			logger.Info("nats disconnected")
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			failures := reconnects.reset()
			logger.Info("nats reconnected", "url", redactURL(nc.ConnectedUrl()), "failures", failures)
		}),
		nats.ReconnectErrHandler(func(nc *nats.Conn, err error) {
			reconnects.failed(err)
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			if err := nc.LastError(); err != nil {
				logger.Warn("nats connection closed", "error", err)
				return
			}
			logger.Info("nats connection closed")
		}),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				logger.Error("nats asynchronous error", "subject", sub.Subject, "error", err)
				return
			}
			logger.Error("nats asynchronous error", "error", err)
		}),
		nats.LameDuckModeHandler(func(nc *nats.Conn) {
			logger.Warn("nats server entered lame duck mode", "url", redactURL(nc.ConnectedUrl()))
		}),
	}
}

// reconnectDelay returns the wait before the next round of reconnects,
// after attempts rounds in which every server of the URL list failed.
func reconnectDelay(attempts int) time.Duration {
	d := reconnectMax
	if attempts < 16 {
		d = min(reconnectBase<<max(attempts-1, 0), reconnectMax)
	}
	return d + rand.N(d/4+1)
}

// reconnectLog logs failed reconnect attempts at most once per
// reconnectLogEvery. It is safe for concurrent use.
type reconnectLog struct {
	logger *slog.Logger

	mu       sync.Mutex
	failures int // since the last reconnect
	unlogged int // since the last record
	lastLog  time.Time
}

func (r *reconnectLog) failed(err error) {
	r.mu.Lock()
	r.failures++
	r.unlogged++
	if time.Since(r.lastLog) < reconnectLogEvery {
		r.mu.Unlock()
		return
	}
	failures, unlogged := r.failures, r.unlogged
	r.unlogged = 0
	r.lastLog = time.Now()
	r.mu.Unlock()

	r.logger.Warn("nats reconnect failed", "error", err, "failures", failures, "since_last_record", unlogged)
}

// reset returns the number of failed attempts before the reconnect and
// starts counting again.
func (r *reconnectLog) reset() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	failures := r.failures
	r.failures, r.unlogged, r.lastLog = 0, 0, time.Time{}
	return failures
}

// connectHint returns what to check for a failed connection.
func connectHint(err error) string {
	var (
		verifyErr    *tls.CertificateVerificationError
		authorityErr x509.UnknownAuthorityError
		hostErr      x509.HostnameError
	)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "the attempt ended with its context: check that the server is reachable within the time allowed"
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		return "check --nats-creds or --nats-nkey and the user's permissions on the server"
	case errors.As(err, &verifyErr), errors.As(err, &authorityErr), errors.As(err, &hostErr),
		errors.Is(err, nats.ErrSecureConnRequired), errors.Is(err, nats.ErrSecureConnWanted):
		return "check --nats-tls-ca, --nats-tls-cert and --nats-tls-key and whether the server uses TLS"
	}
	return "check that a NATS server runs at that address and is reachable, or pass another --nats-url"
}

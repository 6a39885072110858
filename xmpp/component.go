package xmpp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/component"
	"mellium.im/xmpp/jid"
)

// Defaults of ComponentConfig.
const (
	DefaultDialTimeout = 10 * time.Second
	DefaultMinBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
)

// errStreamClosed reports a session that ended because the server closed
// the stream.
var errStreamClosed = errors.New("xmpp: server closed the stream")

// ComponentConfig configures a Component.
type ComponentConfig struct {
	// Addr is the HOST:PORT of the server's XEP-0114 component listener.
	// Required.
	Addr string
	// JID is the component's domain, such as "clients.example.test".
	// Required.
	JID string
	// Secret is the shared secret of the component handshake. Required.
	Secret string
	// Domains are the served server domains. See HandlerConfig.
	Domains []string
	// Backend lists and revokes clients. Required.
	Backend Backend
	// Logger receives connects, disconnects, retries and the Handler's
	// logs. Nil means no logging.
	Logger *slog.Logger
	// RequestTimeout bounds each Backend call. Zero means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxConcurrent is the maximum number of IQs handled at once. Zero means
	// DefaultMaxConcurrent.
	MaxConcurrent int
	// DialTimeout bounds the dial and the handshake together. Zero means
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before a redial, which
	// doubles after each failed attempt from MinBackoff up to MaxBackoff,
	// with jitter. Zero means DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff time.Duration
	MaxBackoff time.Duration
}

// Component is a XEP-0114 external component that serves the client access
// protocol. Its methods are safe for concurrent use, except that Run must
// not run twice at the same time.
type Component struct {
	addr        string
	jid         jid.JID
	secret      []byte
	handler     *Handler
	log         *slog.Logger
	dialTimeout time.Duration
	minBackoff  time.Duration
	maxBackoff  time.Duration
	connected   atomic.Bool
}

// NewComponent returns a Component for cfg. It returns an error wrapping
// ErrInvalidConfig when a required field is missing or invalid.
func NewComponent(cfg ComponentConfig) (*Component, error) {
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("%w: address %q is not HOST:PORT: %w", ErrInvalidConfig, cfg.Addr, err)
	}
	addr, err := jid.Parse(cfg.JID)
	if err != nil || addr.Localpart() != "" || addr.Resourcepart() != "" {
		return nil, fmt.Errorf("%w: component JID %q is not a domain", ErrInvalidConfig, cfg.JID)
	}
	if cfg.Secret == "" {
		return nil, fmt.Errorf("%w: missing component secret", ErrInvalidConfig)
	}

	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h, err := NewHandler(HandlerConfig{
		Backend:        cfg.Backend,
		Domains:        cfg.Domains,
		RequestTimeout: cfg.RequestTimeout,
		MaxConcurrent:  cfg.MaxConcurrent,
		Logger:         logger,
	})
	if err != nil {
		return nil, err
	}

	c := &Component{
		addr:        cfg.Addr,
		jid:         addr,
		secret:      []byte(cfg.Secret),
		handler:     h,
		log:         logger.With("addr", cfg.Addr, "jid", addr.String()),
		dialTimeout: durationOr(cfg.DialTimeout, DefaultDialTimeout),
		minBackoff:  durationOr(cfg.MinBackoff, DefaultMinBackoff),
		maxBackoff:  durationOr(cfg.MaxBackoff, DefaultMaxBackoff),
	}
	if c.minBackoff > c.maxBackoff {
		return nil, fmt.Errorf("%w: min backoff %s is above max backoff %s", ErrInvalidConfig, c.minBackoff, c.maxBackoff)
	}
	return c, nil
}

func durationOr(d, fallback time.Duration) time.Duration {
	if d <= 0 {
		return fallback
	}
	return d
}

// Handler returns the Handler that serves the component's sessions.
func (c *Component) Handler() *Handler {
	return c.handler
}

// Connected reports whether the component has a session with the server
// that passed the handshake and has not ended.
func (c *Component) Connected() bool {
	return c.connected.Load()
}

// Run connects to the server, serves the session, and redials whenever the
// connection fails or drops, until ctx ends. The wait between attempts
// grows exponentially with jitter and starts again from MinBackoff after
// each successful handshake. Run blocks until ctx ends and the session and
// its IQs in progress are closed, and then returns nil.
func (c *Component) Run(ctx context.Context) error {
	delay := backoff{min: c.minBackoff, max: c.maxBackoff}
	attempt := 1
	for {
		connected, err := c.connectAndServe(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			delay.reset()
			attempt = 1
		}

		wait := delay.next()
		c.log.Warn("xmpp component reconnecting", "attempt", attempt, "wait", wait, "err", err)
		attempt++
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
	}
}

// connectAndServe dials, performs the handshake, and serves the session
// until it ends. It reports whether the handshake succeeded, and the error
// that ended the attempt.
func (c *Component) connectAndServe(ctx context.Context) (bool, error) {
	dialCtx, cancel := context.WithTimeout(ctx, c.dialTimeout)
	defer cancel()

	var dialer net.Dialer
	conn, err := dialer.DialContext(dialCtx, "tcp", c.addr)
	if err != nil {
		return false, fmt.Errorf("xmpp: dial %s: %w", c.addr, err)
	}
	// dialCtx is not canceled before the session ends: mellium.im/xmpp
	// v0.22.0 watches it from a goroutine that may, when it ends just after
	// the handshake, set the connection's deadline to the past for a
	// moment and fail the first replies.
	session, err := component.NewSession(dialCtx, c.jid, c.secret, conn)
	if err != nil {
		_ = conn.Close()
		return false, fmt.Errorf("xmpp: component handshake with %s: %w", c.addr, err)
	}

	c.connected.Store(true)
	c.log.Info("xmpp component connected")
	err = c.handler.Serve(ctx, session)
	c.connected.Store(false)

	if ctx.Err() != nil {
		c.log.Info("xmpp component stopped")
		return true, nil
	}
	if err == nil {
		err = errStreamClosed
	}
	c.log.Warn("xmpp component disconnected", "err", err)
	return true, err
}

// backoff computes exponentially growing waits with jitter.
type backoff struct {
	min, max time.Duration
	current  time.Duration
}

// next returns the next wait: the current step, which doubles on each call
// from min up to max, minus a random part of at most half of it.
func (b *backoff) next() time.Duration {
	if b.current == 0 {
		b.current = b.min
	} else {
		b.current = min(2*b.current, b.max)
	}
	half := b.current / 2
	return b.current - rand.N(half+1)
}

func (b *backoff) reset() {
	b.current = 0
}

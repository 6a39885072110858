package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops"
	"github.com/clientele-xmpp/clientele/ops/settings"
)

// Defaults of the Config fields that are zero.
const (
	DefaultMaxRequestBytes = 4 << 20
	DefaultMaxEvents       = 10000
	// DefaultMaxWait stays below the 30-second write timeout of
	// ops.ServeHTTPListener, so that the response to a long poll is written
	// before the timeout.
	DefaultMaxWait        = 20 * time.Second
	DefaultPublishTimeout = 20 * time.Second
	DefaultAckWait        = 30 * time.Second
)

// Config sets up a Server. JS, Settings and Tokens are required.
type Config struct {
	JS jetstream.JetStream
	// Publisher appends the events; nil means events.NewPublisher(JS) with
	// the default options.
	Publisher *events.Publisher
	// Settings serves GET /v1/settings. Its Run must be running.
	Settings *settings.Cache
	Tokens   *Tokens
	// Logger may be nil, which discards the log.
	Logger *slog.Logger
	// Metrics may be nil.
	Metrics *Metrics
	// MaxRequestBytes bounds the body of POST /v1/events; 0 means 4 MiB.
	MaxRequestBytes int64
	// MaxEvents bounds the events of one POST /v1/events; 0 means 10000.
	MaxEvents int
	// MaxWait bounds the wait of a long poll; 0 means 20 seconds. It must
	// stay below the write timeout of the HTTP server.
	MaxWait time.Duration
	// PublishTimeout bounds the wait for JetStream's acknowledgements of one
	// request; 0 means 20 seconds.
	PublishTimeout time.Duration
	// AckWait is the time after which a delivered command that was not
	// acknowledged is delivered again; 0 means 30 seconds.
	AckWait time.Duration
}

// Server serves the node interface. Its handler is safe for concurrent use.
type Server struct {
	cfg       Config
	log       *slog.Logger
	handler   http.Handler
	consumers *consumers
	authLog   *limitedLog

	closeOnce sync.Once
	closing   chan struct{}
}

// New checks cfg and returns a Server. Errors wrap ErrInvalidConfig.
func New(cfg Config) (*Server, error) {
	if cfg.JS == nil || cfg.Settings == nil || cfg.Tokens == nil {
		return nil, fmt.Errorf("%w: JS, Settings and Tokens are required", ErrInvalidConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Publisher == nil {
		cfg.Publisher = events.NewPublisher(cfg.JS, events.PublisherOptions{})
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.MaxEvents <= 0 {
		cfg.MaxEvents = DefaultMaxEvents
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = DefaultPublishTimeout
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = DefaultAckWait
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		consumers: newConsumers(cfg.JS, cfg.AckWait),
		authLog:   &limitedLog{every: 30 * time.Second},
		closing:   make(chan struct{}),
	}

	mux := http.NewServeMux()
	mux.Handle("POST /v1/events", s.endpoint("events", s.handleEvents))
	mux.Handle("GET /v1/commands", s.endpoint("commands", s.handleCommands))
	mux.Handle("POST /v1/commands/ack", s.endpoint("ack", s.handleAck))
	mux.Handle("GET /v1/settings", s.endpoint("settings", s.handleSettings))
	s.handler = mux
	return s, nil
}

// Handler returns the HTTP handler of the node interface.
func (s *Server) Handler() http.Handler {
	return s.handler
}

// Close ends the long polls in progress and makes new ones return at once.
// It is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// Serve serves the node interface on ln until ctx ends, then ends the long
// polls and shuts the HTTP server down as ops.ServeHTTPListener does. It
// closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, s.Close)
	defer stop()
	return ops.ServeHTTPListener(ctx, ln, s.handler, s.log)
}

// pollContext returns a context that ends after wait, when r's client goes
// away, or when the server closes.
func (s *Server) pollContext(r *http.Request, wait time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// endpoint wraps a handler with the bearer token check and the request
// metrics.
func (s *Server) endpoint(name string, h func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() { s.cfg.Metrics.request(name, rec.status) }()

		if !s.authorized(r) {
			if n, ok := s.authLog.allow(); ok {
				s.log.Warn("request with a missing or invalid bearer token rejected", "endpoint", name, "remote", r.RemoteAddr, "rejected_since_last_record", n)
			}
			rec.Header().Set("WWW-Authenticate", `Bearer realm="clientele"`)
			writeError(rec, http.StatusUnauthorized, "missing or invalid bearer token: send Authorization: Bearer TOKEN with a token from clientele's --ingest-token-file")
			return
		}
		h(rec, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return s.cfg.Tokens.Valid(strings.TrimSpace(token))
}

// parseWait reads the wait query parameter, a duration such as 20s or a
// number of seconds, and keeps it between minWait and MaxWait. It is 0
// when absent or zero.
func (s *Server) parseWait(r *http.Request) (time.Duration, error) {
	raw := r.URL.Query().Get("wait")
	if raw == "" {
		return 0, nil
	}
	wait, err := time.ParseDuration(raw)
	if err != nil {
		secs, nerr := strconv.ParseFloat(raw, 64)
		if nerr != nil {
			return 0, fmt.Errorf("wait %q: expected a duration such as 20s or a number of seconds", raw)
		}
		wait = time.Duration(secs * float64(time.Second))
	}
	if wait < 0 {
		return 0, fmt.Errorf("wait %q: expected 0 or more", raw)
	}
	if wait == 0 {
		return 0, nil
	}
	return min(max(wait, minWait), s.cfg.MaxWait), nil
}

// minWait is the shortest wait of a long poll, because a JetStream fetch
// needs time to expire on the server before its context ends.
const minWait = 100 * time.Millisecond

// statusRecorder keeps the status code that a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// errorBody is the JSON body of a failed request.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// limitedLog allows one log record per interval and counts the ones it
// held back. It is safe for concurrent use.
type limitedLog struct {
	every time.Duration

	mu      sync.Mutex
	last    time.Time
	skipped int
}

// allow reports whether a record may be written now, with the number of
// records held back since the last one.
func (l *limitedLog) allow() (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && time.Since(l.last) < l.every {
		l.skipped++
		return 0, false
	}
	n := l.skipped
	l.last, l.skipped = time.Now(), 0
	return n, true
}

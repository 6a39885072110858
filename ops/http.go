package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Timeouts of the HTTP server that ServeHTTP runs.
const (
	httpReadHeaderTimeout = 5 * time.Second
	httpReadTimeout       = 10 * time.Second
	httpWriteTimeout      = 30 * time.Second
	httpIdleTimeout       = 2 * time.Minute
	// httpShutdownTimeout bounds the wait for open requests after the
	// context of ServeHTTP ends.
	httpShutdownTimeout = 5 * time.Second
)

// NewHTTPHandler returns the handler of the operations endpoints:
//
//   - GET /metrics serves the metrics of reg in the Prometheus exposition
//     formats.
//   - GET /healthz returns 200 "ok" while the process serves HTTP.
//   - GET /readyz returns 200 "ok" when ready returns nil, and otherwise 503
//     with "not ready: " and the error text. A nil ready counts as ready.
//
// Other paths return 404 and other methods 405. NewHTTPHandler panics if
// reg is nil, because the global default registry is never used.
func NewHTTPHandler(reg prometheus.Gatherer, ready func() error) http.Handler {
	if reg == nil {
		panic("ops: NewHTTPHandler: nil prometheus.Gatherer")
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			if err := ready(); err != nil {
				writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
				return
			}
		}
		writeText(w, http.StatusOK, "ok")
	})
	return mux
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintln(w, body)
}

// ServeHTTP listens on addr and serves handler until ctx ends, then shuts
// the server down, waiting up to five seconds for open requests. It
// returns nil after a shutdown caused by ctx. An address that cannot be
// bound returns an error that wraps ErrListen and names it.
func ServeHTTP(ctx context.Context, addr string, handler http.Handler, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: HTTP server on %s: %w: stop the program that uses this address or pass --http-listen with a free HOST:PORT", ErrListen, addr, err)
	}
	return ServeHTTPListener(ctx, ln, handler, logger)
}

// ServeHTTPListener is ServeHTTP on a listener that the caller opened,
// for example on port 0. It closes ln.
func ServeHTTPListener(ctx context.Context, ln net.Listener, handler http.Handler, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("http server listening", "addr", ln.Addr().String())

	select {
	case err := <-served:
		return fmt.Errorf("ops: HTTP server on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		srv.Close()
		err = fmt.Errorf("%w: HTTP server on %s: requests still open after %s", ErrShutdownTimeout, ln.Addr(), httpShutdownTimeout)
	}
	<-served
	logger.Info("http server stopped", "addr", ln.Addr().String())
	return err
}

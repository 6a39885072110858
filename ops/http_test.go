package ops

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	body, err := io.ReadAll(rec.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Code, string(body)
}

func TestHTTPHealthz(t *testing.T) {
	h := NewHTTPHandler(prometheus.NewRegistry(), func() error { return errors.New("still replaying") })
	code, body := get(t, h, http.MethodGet, "/healthz")
	if code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz = %d %q, want 200 %q", code, body, "ok\n")
	}
	if code, _ := get(t, h, http.MethodHead, "/healthz"); code != http.StatusOK {
		t.Errorf("HEAD /healthz = %d, want 200", code)
	}
}

func TestHTTPReadyzFlips(t *testing.T) {
	var ready atomic.Bool
	h := NewHTTPHandler(prometheus.NewRegistry(), func() error {
		if !ready.Load() {
			return errors.New("projector at sequence 10 of 42")
		}
		return nil
	})

	code, body := get(t, h, http.MethodGet, "/readyz")
	if code != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz before ready = %d, want 503", code)
	}
	if body != "not ready: projector at sequence 10 of 42\n" {
		t.Errorf("GET /readyz before ready body = %q, want the reason", body)
	}

	ready.Store(true)
	code, body = get(t, h, http.MethodGet, "/readyz")
	if code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /readyz after ready = %d %q, want 200 %q", code, body, "ok\n")
	}
}

func TestHTTPReadyzNilFunc(t *testing.T) {
	h := NewHTTPHandler(prometheus.NewRegistry(), nil)
	if code, _ := get(t, h, http.MethodGet, "/readyz"); code != http.StatusOK {
		t.Errorf("GET /readyz with nil ready = %d, want 200", code)
	}
}

func TestHTTPMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	applied := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "clientele_test_applied_events_total",
		Help: "Events applied in the test.",
	}, []string{"type"})
	reg.MustRegister(applied)
	applied.WithLabelValues("session.bound").Add(3)

	h := NewHTTPHandler(reg, nil)
	code, body := get(t, h, http.MethodGet, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d, want 200", code)
	}
	if want := `clientele_test_applied_events_total{type="session.bound"} 3`; !strings.Contains(body, want) {
		t.Errorf("metrics have no %q:\n%s", want, body)
	}
	// Metrics of the global default registry, such as go_goroutines, are
	// absent because only reg is served.
	if strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics include the default registry:\n%s", body)
	}
}

func TestHTTPRoutes(t *testing.T) {
	h := NewHTTPHandler(prometheus.NewRegistry(), nil)
	tests := []struct {
		name, method, path string
		want               int
	}{
		{"unknown path", http.MethodGet, "/debug", http.StatusNotFound},
		{"post healthz", http.MethodPost, "/healthz", http.StatusMethodNotAllowed},
		{"delete metrics", http.MethodDelete, "/metrics", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _ := get(t, h, tt.method, tt.path); code != tt.want {
				t.Errorf("%s %s = %d, want %d", tt.method, tt.path, code, tt.want)
			}
		})
	}
}

func TestNewHTTPHandlerNilGathererPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewHTTPHandler(nil, nil) did not panic")
		}
	}()
	NewHTTPHandler(nil, nil)
}

func TestServeHTTPStopsWithContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	logger, logs := newTestLogger()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- ServeHTTPListener(ctx, ln, NewHTTPHandler(prometheus.NewRegistry(), nil), logger)
	}()

	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %d, want 200", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("ServeHTTPListener after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeHTTPListener still running 10s after cancel")
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
	for _, want := range []string{"http server listening", "http server stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log has no %q:\n%s", want, logs.String())
		}
	}
}

func TestServeHTTPPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()

	err = ServeHTTP(context.Background(), addr, http.NotFoundHandler(), nil)
	if !errors.Is(err, ErrListen) {
		t.Fatalf("error %v does not wrap ErrListen", err)
	}
	for _, want := range []string{addr, "--http-listen"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestServeHTTPFinishesOpenRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	release := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ServeHTTPListener(ctx, ln, handler, nil) }()

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		got <- result{string(body), err}
	}()

	<-started
	cancel()
	time.Sleep(50 * time.Millisecond) // lets the shutdown begin while the request is open
	close(release)

	r := <-got
	if r.err != nil || r.body != "done" {
		t.Errorf("open request during shutdown = %q, %v; want %q", r.body, r.err, "done")
	}
	if err := <-served; err != nil {
		t.Errorf("ServeHTTPListener: %v", err)
	}
}

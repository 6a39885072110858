package ingest_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
)

func TestServeStopsWithOpenPoll(t *testing.T) {
	f := newFixture(t, events.StreamOptions{}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- f.server.Serve(ctx, ln) }()

	url := "http://" + ln.Addr().String() + commandsPath + "&wait=20s"
	polled := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			polled <- 0
			return
		}
		resp.Body.Close()
		polled <- resp.StatusCode
	}()
	time.Sleep(300 * time.Millisecond)

	start := time.Now()
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v, want nil after its context ended", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still running 10s after its context ended")
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Serve took %v to stop with a long poll open, want well under the poll's wait", elapsed)
	}
	if code := <-polled; code != http.StatusOK {
		t.Errorf("long poll during shutdown ended with %d, want 200", code)
	}
}

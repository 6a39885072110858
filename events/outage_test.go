package events_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/natstest"
)

// outageOptions retry quickly, so that a publisher facing a stopped server
// gives up within about a second.
var outageOptions = events.PublisherOptions{Retries: 2, Backoff: 10 * time.Millisecond, AckTimeout: 200 * time.Millisecond}

// outageBound is the longest a publish under outageOptions may block: three
// tries of one AckTimeout each, the backoff between them, and slack for a
// loaded machine.
const outageBound = 10 * time.Second

// connectReconnecting connects to srv like a node does, reconnecting
// forever, with a reconnect buffer of bufSize bytes (0 keeps the nats.go
// default of 8 MiB).
func connectReconnecting(t *testing.T, srv *natstest.Server, bufSize int) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	opts := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(20 * time.Millisecond)}
	if bufSize > 0 {
		opts = append(opts, nats.ReconnectBufSize(bufSize))
	}
	nc, err := nats.Connect(srv.ClientURL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := events.EnsureStreams(context.Background(), js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// stopServer shuts srv down and waits until nc noticed, so that the next
// publish meets a disconnected client.
func stopServer(t *testing.T, srv *natstest.Server, nc *nats.Conn) {
	t.Helper()
	srv.Shutdown()
	srv.WaitForShutdown()
	deadline := time.Now().Add(5 * time.Second)
	for nc.IsConnected() {
		if time.Now().After(deadline) {
			t.Fatal("client still connected 5s after the server stopped")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func numberedEvents(prefix string, n int, pad int) []*events.Event {
	evs := make([]*events.Event, n)
	for i := range evs {
		e := validEvent()
		e.ID = fmt.Sprintf("%s-%d", prefix, i)
		if pad > 0 {
			e.Client = &events.Client{ID: "c1", Device: strings.Repeat("d", pad)}
		}
		evs[i] = e
	}
	return evs
}

// withinBound runs f and fails the test when it does not return within
// outageBound.
func withinBound(t *testing.T, what string, f func()) time.Duration {
	t.Helper()
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
		return time.Since(start)
	case <-time.After(outageBound):
		t.Fatalf("%s still blocked after %s with NATS unreachable", what, outageBound)
		return 0
	}
}

func TestPublishUnreachableReturnsError(t *testing.T) {
	cases := []struct {
		name    string
		publish func(pub *events.Publisher) []error
	}{
		{"publish", func(pub *events.Publisher) []error {
			_, err := pub.Publish(context.Background(), numberedEvents("single", 1, 0)[0])
			return []error{err}
		}},
		{"batch", func(pub *events.Publisher) []error {
			results, err := pub.PublishBatch(context.Background(), numberedEvents("batch", 20, 0))
			if err != nil {
				return []error{fmt.Errorf("PublishBatch returned %w without its context ending", err)}
			}
			errs := make([]error, len(results))
			for i, r := range results {
				errs[i] = r.Err
			}
			return errs
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := natstest.Start(t)
			nc, js := connectReconnecting(t, srv, 0)
			pub := events.NewPublisher(js, outageOptions)
			stopServer(t, srv, nc)

			var errs []error
			took := withinBound(t, tc.name, func() { errs = tc.publish(pub) })
			for i, err := range errs {
				if !errors.Is(err, events.ErrPublish) {
					t.Errorf("event %d: error = %v, want ErrPublish", i, err)
				}
			}
			t.Logf("gave up after %s", took.Round(time.Millisecond))
		})
	}
}

// TestPublishBufferBoundedThenStoredOnce fills the client's reconnect buffer
// while the server is down: publishes beyond it fail at once, the client
// holds no more than the buffer, and after the server returns a retry of
// every event stores each exactly once.
func TestPublishBufferBoundedThenStoredOnce(t *testing.T) {
	const bufSize = 16 << 10
	srv := natstest.Start(t)
	port := srv.Addr().(*net.TCPAddr).Port
	nc, js := connectReconnecting(t, srv, bufSize)
	pub := events.NewPublisher(js, outageOptions)
	stopServer(t, srv, nc)

	evs := numberedEvents("buffered", 100, 800)
	var results []events.Result
	withinBound(t, "PublishBatch", func() {
		var err error
		results, err = pub.PublishBatch(context.Background(), evs)
		if err != nil {
			t.Errorf("PublishBatch = %v, want per-event errors only", err)
		}
	})
	for i, r := range results {
		if !errors.Is(r.Err, events.ErrPublish) {
			t.Errorf("event %d while NATS is down: %+v, want ErrPublish", i, r)
		}
	}
	// nats.go checks the limit before it appends a message, so the buffer
	// may pass it by one message.
	if buffered, err := nc.Buffered(); err != nil || buffered > bufSize+events.MaxEventSize {
		t.Errorf("client buffers %d bytes (err %v), want at most %d and one event", buffered, err, bufSize)
	}

	natstest.StartIn(t, srv.StoreDir, port)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	retry := events.NewPublisher(js, events.PublisherOptions{})
	results, err := retry.PublishBatch(ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if r.Err != nil {
			t.Errorf("event %d after NATS returned: %v", i, r.Err)
		}
	}
	stream, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(evs)) {
		t.Errorf("stream holds %d events after the retry, want each of the %d once", info.State.Msgs, len(evs))
	}
}

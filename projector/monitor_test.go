package projector

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/natstest"
)

func TestCheckStreamReadsFirstPending(t *testing.T) {
	ctx := context.Background()
	_, js := natstest.Start(t).Connect(t)
	if err := events.EnsureStreams(ctx, js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := js.Publish(ctx, fmt.Sprintf("%s.x.y.m%d", events.UserSubjectPrefix, i), []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	stream, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	third, err := stream.GetMsg(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}

	m := NewMetrics(prometheus.NewRegistry())
	r := NewRunner(Config{JS: js, Metrics: m})
	r.applied = 2
	m.progress.processed(2, third.Time.Add(-1))
	if err := r.checkStream(ctx, stream); err != nil {
		t.Fatal(err)
	}
	if got := m.progress.streamLast.Load(); got != 5 {
		t.Errorf("stream last sequence = %d, want 5", got)
	}
	if got := m.progress.lagEvents(); got != 3 {
		t.Errorf("lag = %d events, want 3", got)
	}
	if got, want := m.progress.pendingStored.Load(), third.Time.UnixNano(); got != want {
		t.Errorf("pending store time = %d, want %d, the store time of sequence 3", got, want)
	}

	r.applied = 5
	if err := r.checkStream(ctx, stream); err != nil {
		t.Fatal(err)
	}
	if got := m.progress.pendingStored.Load(); got != 0 {
		t.Errorf("pending store time after catching up = %d, want 0", got)
	}
}

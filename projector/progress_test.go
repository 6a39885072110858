package projector

import (
	"testing"
	"time"
)

func TestProgressLag(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name        string
		applied     uint64
		stored      time.Time
		streamLast  uint64
		pending     time.Time
		wantEvents  uint64
		wantSeconds time.Duration
	}{
		{
			name:    "caught up",
			applied: 10, stored: now.Add(-time.Hour), streamLast: 10,
		},
		{
			name:    "applied ahead of the last check",
			applied: 12, stored: now.Add(-time.Second), streamLast: 10,
		},
		{
			name:    "behind: age of the first pending message",
			applied: 10, stored: now.Add(-time.Hour), streamLast: 15, pending: now.Add(-3 * time.Second),
			wantEvents: 5, wantSeconds: 3 * time.Second,
		},
		{
			name:    "passed the pending message: store time of the last processed one",
			applied: 13, stored: now.Add(-time.Second), streamLast: 15, pending: now.Add(-3 * time.Second),
			wantEvents: 2, wantSeconds: time.Second,
		},
		{
			name:    "pending message unread: store time of the last processed one",
			applied: 10, stored: now.Add(-time.Minute), streamLast: 11,
			wantEvents: 1, wantSeconds: time.Minute,
		},
		{
			name:       "nothing processed or read yet",
			streamLast: 100,
			wantEvents: 100,
		},
		{
			name:    "store time after now",
			applied: 1, streamLast: 2, pending: now.Add(time.Second),
			wantEvents: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := progress{now: func() time.Time { return now }}
			p.processed(c.applied, c.stored)
			p.streamChecked(c.streamLast, c.pending)
			if got := p.lagEvents(); got != c.wantEvents {
				t.Errorf("lagEvents = %d, want %d", got, c.wantEvents)
			}
			if got := p.lagSeconds(); got != c.wantSeconds {
				t.Errorf("lagSeconds = %s, want %s", got, c.wantSeconds)
			}
		})
	}
}

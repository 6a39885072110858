package projector

import (
	"testing"
	"time"
)

func TestParsePosition(t *testing.T) {
	stored := time.Date(2026, 12, 4, 10, 0, 0, 123, time.UTC)
	tests := []struct {
		name  string
		reply string
		want  position
		ok    bool
	}{
		{"old form", "$JS.ACK.EVENTS.c1.1.42.40.1796378400000000123.7", position{42, stored, 7}, true},
		{"new form", "$JS.ACK._.ABCHASH.EVENTS.c1.1.42.40.1796378400000000123.7.rnd", position{42, stored, 7}, true},
		{"new form without token", "$JS.ACK.hub.ABCHASH.EVENTS.c1.2.42.40.1796378400000000123.0", position{42, stored, 0}, true},
		{"not an ack", "_INBOX.abc", position{}, false},
		{"too few tokens", "$JS.ACK.EVENTS.c1.1.42", position{}, false},
		{"ten tokens", "$JS.ACK.a.EVENTS.c1.1.42.40.1796378400000000123.7", position{}, false},
		{"too many tokens", "$JS.ACK._.H.EVENTS.c1.1.42.40.1796378400000000123.7.rnd.more", position{}, false},
		{"not a number", "$JS.ACK.EVENTS.c1.1.x.40.1796378400000000123.7", position{}, false},
		{"empty", "", position{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parsePosition(tc.reply)
			if ok != tc.ok || got.seq != tc.want.seq || got.pending != tc.want.pending || !got.stored.Equal(tc.want.stored) {
				t.Errorf("parsePosition(%q) = %+v, %v; want %+v, %v", tc.reply, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParsePositionDoesNotAllocate(t *testing.T) {
	const reply = "$JS.ACK._.ABCHASH.EVENTS.c1.1.42.40.1796378400000000123.7.rnd"
	if n := testing.AllocsPerRun(100, func() { parsePosition(reply) }); n != 0 {
		t.Errorf("parsePosition allocates %.0f times, want 0", n)
	}
}

package simulate

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
)

// testStart is a fixed start, so that generators built at different times
// produce the same events.
var testStart = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func newTestGenerator(t *testing.T, cfg Config) *Generator {
	t.Helper()
	if cfg.Start.IsZero() {
		cfg.Start = testStart
	}
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatalf("NewGenerator(%+v): %v", cfg, err)
	}
	return g
}

// generate returns the next n events of g.
func generate(t *testing.T, g *Generator, n int) []*events.Event {
	t.Helper()
	out := make([]*events.Event, n)
	for i := range out {
		e, err := g.Next()
		if err != nil {
			t.Fatalf("Next, event %d: %v", i, err)
		}
		out[i] = e
	}
	return out
}

type eventKey struct {
	id   string
	typ  events.Type
	user string
}

func keys(evs []*events.Event) []eventKey {
	out := make([]eventKey, len(evs))
	for i, e := range evs {
		out[i] = eventKey{e.ID, e.Type, e.User}
	}
	return out
}

func TestGeneratorSameSeedSameEvents(t *testing.T) {
	cfg := Config{Nodes: 3, Users: 15, Events: 3000, Seed: 42}
	first := keys(generate(t, newTestGenerator(t, cfg), 3000))
	second := keys(generate(t, newTestGenerator(t, cfg), 3000))
	for i := range first {
		if first[i] != second[i] {
			t.Fatalf("event %d differs between runs with seed 42: %+v, then %+v", i, first[i], second[i])
		}
	}
}

func TestGeneratorSeedChangesEvents(t *testing.T) {
	a := keys(generate(t, newTestGenerator(t, Config{Seed: 1}), 200))
	b := keys(generate(t, newTestGenerator(t, Config{Seed: 2}), 200))
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	if same > 0 {
		t.Errorf("seeds 1 and 2 share %d of 200 events; want none", same)
	}
}

func TestGeneratorIDsUnique(t *testing.T) {
	seen := make(map[string]int)
	for i, e := range generate(t, newTestGenerator(t, Config{Users: 30, Events: 20000}), 20000) {
		if j, dup := seen[e.ID]; dup {
			t.Fatalf("events %d and %d share id %s", j, i, e.ID)
		}
		seen[e.ID] = i
	}
}

func TestGeneratorEventsValidate(t *testing.T) {
	g := newTestGenerator(t, Config{Users: 20, Events: 5000, Domain: "Chat.Example.ORG"})
	for i, e := range generate(t, g, 5000) {
		data, err := events.Encode(e)
		if err != nil {
			t.Fatalf("event %d: encode: %v", i, err)
		}
		decoded, err := events.Decode(data)
		if err != nil {
			t.Fatalf("event %d: decode %s: %v", i, data, err)
		}
		if decoded.User != e.User {
			t.Errorf("event %d: user %q after decoding, %q before", i, decoded.User, e.User)
		}
		if !e.Type.IsNode() && !strings.HasSuffix(e.User, "@chat.example.org") {
			t.Errorf("event %d: user %q is not in the normalised domain chat.example.org", i, e.User)
		}
	}
}

func TestGeneratorTimes(t *testing.T) {
	const n = 4000
	g := newTestGenerator(t, Config{Events: n})
	end := testStart.Add(simulatedSpan)
	prev := testStart
	for i, e := range generate(t, g, n) {
		if e.Time.Before(prev) {
			t.Fatalf("event %d at %v is before the previous event at %v", i, e.Time, prev)
		}
		if e.Time.After(end) {
			t.Fatalf("event %d at %v is after the end of the simulated span %v", i, e.Time, end)
		}
		prev = e.Time
	}
	if span := prev.Sub(testStart); span < simulatedSpan/4 {
		t.Errorf("%d events span %v; want them spread over a good part of %v", n, span, simulatedSpan)
	}
}

func TestGeneratorCoversEventTypes(t *testing.T) {
	g := newTestGenerator(t, Config{Users: 20, Events: 30000})
	counts := make(map[events.Type]int)
	for _, e := range generate(t, g, 30000) {
		counts[e.Type]++
	}
	want := []events.Type{
		events.AuthPassword, events.AuthToken, events.AuthFast,
		events.GrantIssued, events.GrantUsed, events.GrantExpired, events.FastMinted,
		events.SessionBound, events.SessionHibernated, events.SessionResumed, events.SessionUnbound,
		events.PasswordChanged, events.NodeStopped,
	}
	for _, typ := range want {
		if counts[typ] == 0 {
			t.Errorf("no %s event in 30000 events", typ)
		}
	}
	if counts[events.NodeStarted] <= 3 {
		t.Errorf("%d node.started events for 3 nodes; want restarts too", counts[events.NodeStarted])
	}
}

func TestGeneratorClients(t *testing.T) {
	g := newTestGenerator(t, Config{Users: 40, Events: 5000})
	software := make(map[string]bool)
	legacyWithID, sasl2WithoutID := 0, 0
	for _, e := range generate(t, g, 5000) {
		if e.Type != events.AuthPassword {
			continue
		}
		software[e.Client.Software] = true
		legacy := e.Client.Software == "Pidgin" || e.Client.Software == "Profanity"
		switch {
		case legacy && e.Client.ID != "":
			legacyWithID++
		case !legacy && e.Client.ID == "":
			sasl2WithoutID++
		}
	}
	for _, name := range []string{"Conversations", "Gajim", "Dino", "Monal", "Pidgin"} {
		if !software[name] {
			t.Errorf("no password login of %s in 5000 events", name)
		}
	}
	if legacyWithID > 0 {
		t.Errorf("%d legacy password logins carry a client id", legacyWithID)
	}
	if sasl2WithoutID > 0 {
		t.Errorf("%d SASL2 password logins lack a client id", sasl2WithoutID)
	}
}

func TestNewGeneratorRejectsConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"negative nodes", Config{Nodes: -1}},
		{"too many nodes", Config{Nodes: 1000}},
		{"negative users", Config{Users: -2}},
		{"negative events", Config{Events: -5}},
		{"negative duration", Config{Duration: -time.Second}},
		{"negative rate", Config{Rate: -1}},
		{"NaN rate", Config{Rate: math.NaN()}},
		{"negative batch", Config{BatchSize: -1}},
		{"negative heartbeat", Config{HeartbeatInterval: -time.Second}},
		{"invalid domain", Config{Domain: "exa mple.test"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewGenerator(tc.cfg)
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("NewGenerator(%+v) error = %v; want ErrInvalidConfig", tc.cfg, err)
			}
		})
	}
}

func TestNewGeneratorDefaults(t *testing.T) {
	g, err := NewGenerator(Config{})
	if err != nil {
		t.Fatalf("NewGenerator(Config{}): %v", err)
	}
	if got := len(g.Nodes()); got != DefaultNodes {
		t.Errorf("%d nodes; want %d", got, DefaultNodes)
	}
	if got := len(g.users); got != DefaultUsers {
		t.Errorf("%d users; want %d", got, DefaultUsers)
	}
	hour := time.Now().UTC().Truncate(time.Hour)
	start := g.cfg.Start
	if !start.Equal(hour.Add(-simulatedSpan)) && !start.Equal(hour.Add(-simulatedSpan-time.Hour)) {
		t.Errorf("default start %v; want the current hour %v minus %v", start, hour, simulatedSpan)
	}
	e, err := g.Next()
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	if e.Type != events.NodeStarted || e.Node != "xmpp-1" {
		t.Errorf("first event is %s of %s; want node.started of xmpp-1", e.Type, e.Node)
	}
}

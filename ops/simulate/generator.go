package simulate

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/clientele-xmpp/clientele/events"
)

// Generator produces the deterministic event sequence of a simulation. It
// is not safe for concurrent use.
type Generator struct {
	cfg     Config
	rng     *rand.Rand
	entropy *rand.ChaCha8

	// clock is the simulated time of the latest event and never passes end.
	clock time.Time
	end   time.Time
	// gap is the mean simulated time between two actions.
	gap time.Duration

	nodes  []*simNode
	byNode map[string]*simNode
	users  []*simUser
	byJID  map[string]*simUser

	// pending holds the steps of the current action from index head on.
	pending []step
	head    int
}

// step is one event of an action and the change of simulated state that
// takes effect when Next returns the event. Deferring the change keeps the
// state equal to what the returned events describe, which Revoke relies on.
type step struct {
	event *events.Event
	apply func()
}

// NewGenerator returns a Generator for cfg. A zero cfg.Start is resolved
// from the current time, so callers that compare two generators set Start.
// It returns an error wrapping ErrInvalidConfig for an invalid cfg.
func NewGenerator(cfg Config) (*Generator, error) {
	cfg, err := cfg.withDefaults(time.Now())
	if err != nil {
		return nil, err
	}
	return newGenerator(cfg), nil
}

// newGenerator builds the generator of a cfg that withDefaults returned.
func newGenerator(cfg Config) *Generator {
	var seed [32]byte
	copy(seed[:], "clientele simulate entropy")
	binary.BigEndian.PutUint64(seed[24:], cfg.Seed)
	g := &Generator{
		cfg:     cfg,
		rng:     rand.New(rand.NewPCG(cfg.Seed, 0x636c69656e74656c)),
		entropy: rand.NewChaCha8(seed),
		clock:   cfg.Start,
		end:     cfg.Start.Add(simulatedSpan),
		gap:     max(time.Microsecond, simulatedSpan/time.Duration(cfg.expectedEvents())),
		byNode:  make(map[string]*simNode, cfg.Nodes),
		byJID:   make(map[string]*simUser, cfg.Users),
	}
	for i := 1; i <= cfg.Nodes; i++ {
		n := &simNode{name: "xmpp-" + strconv.Itoa(i), sessions: make(map[string]*simSession)}
		g.nodes = append(g.nodes, n)
		g.byNode[n.name] = n
	}
	for i := 1; i <= cfg.Users; i++ {
		u := &simUser{jid: "user" + strconv.Itoa(i) + "@" + cfg.Domain}
		for range 1 + g.rng.IntN(3) {
			g.addClient(u)
		}
		g.users = append(g.users, u)
		g.byJID[u.jid] = u
	}
	for _, n := range g.nodes {
		g.startNode(n)
	}
	return g
}

// Next returns the next event of the sequence. Every event is checked with
// events.Validate, so an error reports a bug of the simulator.
func (g *Generator) Next() (*events.Event, error) {
	if g.head == len(g.pending) {
		g.pending, g.head = g.pending[:0], 0
		for len(g.pending) == 0 {
			g.act()
		}
	}
	st := g.pending[g.head]
	g.pending[g.head] = step{}
	g.head++
	if st.apply != nil {
		st.apply()
	}
	e := st.event
	if err := events.Validate(e); err != nil {
		return nil, fmt.Errorf("simulate: generated an invalid %s event %s: %w", e.Type, e.ID, err)
	}
	return e, nil
}

// midAction reports whether the current action has events that Next has
// not returned yet.
func (g *Generator) midAction() bool {
	return g.head < len(g.pending)
}

// Nodes returns the node names, xmpp-1 to xmpp-K.
func (g *Generator) Nodes() []string {
	names := make([]string, len(g.nodes))
	for i, n := range g.nodes {
		names[i] = n.name
	}
	return names
}

// Boot returns the boot id of node's current boot, or "" for an unknown
// node.
func (g *Generator) Boot(node string) string {
	if n := g.byNode[node]; n != nil {
		return n.boot
	}
	return ""
}

// Clock returns the simulated time of the latest generated event.
func (g *Generator) Clock() time.Time {
	return g.clock
}

// emit appends an event of type t at the next simulated time to the current
// action. The first event of an action follows the previous action after a
// step of mean gap; later events of the same action follow within 150ms.
func (g *Generator) emit(t events.Type, n *simNode, u *simUser) *events.Event {
	var advance time.Duration
	if len(g.pending) == 0 {
		advance = time.Duration(g.rng.Int64N(int64(2 * g.gap)))
	} else {
		advance = time.Millisecond + time.Duration(g.rng.Int64N(int64(min(g.gap, 150*time.Millisecond))))
	}
	g.clock = g.clock.Add(advance.Truncate(time.Microsecond))
	if g.clock.After(g.end) {
		g.clock = g.end
	}

	e := &events.Event{
		ID:   g.newEventID(g.clock),
		Type: t,
		V:    events.Version,
		Time: g.clock,
		Node: n.name,
	}
	if u != nil {
		e.User = u.jid
	}
	g.pending = append(g.pending, step{event: e})
	return e
}

// then sets the state change of the latest emitted event.
func (g *Generator) then(apply func()) {
	g.pending[len(g.pending)-1].apply = apply
}

// pick returns a uniformly chosen element of s.
func pick[T any](g *Generator, s []T) T {
	return s[g.rng.IntN(len(s))]
}

func (g *Generator) randomNode() *simNode {
	return pick(g, g.nodes)
}

// chance returns true with probability p.
func (g *Generator) chance(p float64) bool {
	return g.rng.Float64() < p
}

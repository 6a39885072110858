package query

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
)

// heartbeatSkew widens the window of stored times in which pastFold looks
// for the heartbeats near a cut, for node clocks that differ from the NATS
// server's. A heartbeat outside the window is still found by the full scan.
const heartbeatSkew = 5 * time.Minute

// ReplayInfo describes the replay behind a view at a past time.
type ReplayInfo struct {
	// Seq is the stream's last sequence when the replay began. Events
	// stored later are not part of the view.
	Seq uint64 `json:"seq"`
	// Read counts the stream messages that the replay read.
	Read int `json:"read"`
	// FullScan is true when the liveness of a node had to be checked against
	// every event of the stream, because its own events could not show it.
	FullScan bool `json:"full_scan,omitempty"`
	// FirstSeq and FirstTime are those of the oldest message in the stream.
	// A FirstSeq above 1 means that older events were removed, usually by
	// the stream's maximum age, and the view lacks what only they recorded.
	FirstSeq  uint64    `json:"first_seq"`
	FirstTime time.Time `json:"first_time,omitzero"`
}

// pastFold computes an account's folded state at several past times, each
// equal to a fold of every stored event up to that time, as a fresh replay of
// the whole stream cut at that time would give for that account.
//
// It reads only the account's own events and tombstones, the start and stop
// events of every node, and the heartbeats stored near each cut. An
// account's view depends on other accounts only through the liveness of the
// nodes that host its sessions: any event of a node counts as a sign of
// life for the heartbeat timeout. When those reads leave a node's liveness
// open, pastFold settles it by scanning the whole stream up to the first
// event that shows the node alive.
//
// NOTE: that full scan reads the whole stream when a node really was
// silent at a cut, as after a crash, so its cost follows the stream's size.
type pastFold struct {
	stream  jetstream.Stream
	user    string
	cuts    []time.Time
	timeout time.Duration
	states  []*projector.State
	info    ReplayInfo
	// lifecycleSettled holds, per cut, the nodes that sent no node event
	// up to the cut, so that the heartbeat timeout does not apply to them.
	lifecycleSettled []map[string]bool
}

// foldAt returns the state of user at each of cuts, and what the replay
// read. user must be normalised.
func (s *Service) foldAt(ctx context.Context, user string, cuts []time.Time) ([]*projector.State, ReplayInfo, error) {
	stream, err := s.eventStream(ctx)
	if err != nil {
		return nil, ReplayInfo{}, err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, ReplayInfo{}, fmt.Errorf("%w: stream info: %v", ErrUnavailable, err)
	}
	f := &pastFold{
		stream: stream, user: user, cuts: cuts, timeout: s.cfg.HeartbeatTimeout,
		info: ReplayInfo{Seq: info.State.LastSeq, FirstSeq: info.State.FirstSeq, FirstTime: info.State.FirstTime},
	}
	for range cuts {
		f.states = append(f.states, projector.NewState())
	}
	steps := []func(context.Context) error{f.foldAccount, f.foldLifecycle, f.foldHeartbeats, f.settleLifecycle, f.settleSilentNodes}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, f.info, err
		}
	}
	return f.states, f.info, nil
}

// scan reads r up to the stream sequence at which the fold began and calls
// fn with every valid event.
func (f *pastFold) scan(ctx context.Context, r scanRange, fn func(e *events.Event, meta *jetstream.MsgMetadata) bool) error {
	r.stop = f.info.Seq
	return scanStream(ctx, f.stream, r, func(msg jetstream.Msg, meta *jetstream.MsgMetadata) bool {
		f.info.Read++
		e, err := events.Decode(msg.Data())
		if err != nil {
			return true
		}
		return fn(e, meta)
	})
}

// applyUpTo applies e to the state of every cut that e is not after.
func (f *pastFold) applyUpTo(e *events.Event) {
	for i, cut := range f.cuts {
		if !e.Time.After(cut) {
			// Apply fails only for unknown types, which Decode rejects.
			_ = f.states[i].Apply(e)
		}
	}
}

// foldAccount applies the account's events and its tombstones in stream
// order, which account.forgotten needs.
func (f *pastFold) foldAccount(ctx context.Context) error {
	key := events.UserKey(f.user)
	r := scanRange{filters: []string{events.UserFilter(f.user), events.ForgottenSubject(key)}}
	return f.scan(ctx, r, func(e *events.Event, _ *jetstream.MsgMetadata) bool {
		if e.User == f.user || (e.Type == events.AccountForgotten && e.UserKey == key) {
			f.applyUpTo(e)
		}
		return true
	})
}

// foldLifecycle applies every node.started and node.stopped event.
func (f *pastFold) foldLifecycle(ctx context.Context) error {
	r := scanRange{filters: []string{nodeTypeFilter("*", events.NodeStarted), nodeTypeFilter("*", events.NodeStopped)}}
	return f.scan(ctx, r, func(e *events.Event, _ *jetstream.MsgMetadata) bool {
		f.applyUpTo(e)
		return true
	})
}

// foldHeartbeats applies, for each cut, the heartbeats stored within the
// heartbeat timeout before it, widened by heartbeatSkew.
func (f *pastFold) foldHeartbeats(ctx context.Context) error {
	if f.timeout <= 0 {
		return nil
	}
	for i, cut := range f.cuts {
		r := scanRange{filters: []string{nodeTypeFilter("*", events.NodeHeartbeat)}, startTime: cut.Add(-f.timeout - heartbeatSkew)}
		err := f.scan(ctx, r, func(e *events.Event, meta *jetstream.MsgMetadata) bool {
			if meta.Timestamp.After(cut.Add(heartbeatSkew)) {
				return false
			}
			if !e.Time.After(cut) {
				_ = f.states[i].Apply(e)
			}
			return true
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func nodeTypeFilter(node string, t events.Type) string {
	return events.NodeSubjectPrefix + "." + node + "." + string(t)
}

// alive reports whether node counts as alive at cut i, whatever else the
// stream contains: it has sent node events, and its newest known event lies
// within the heartbeat timeout before the cut.
func (f *pastFold) alive(i int, node string) bool {
	n := f.states[i].Nodes[node]
	return n != nil && n.Lifecycle && f.cuts[i].Sub(n.LastSeen) <= f.timeout
}

// openNodes returns the nodes that host a bound or hibernated session of
// the account at cut i, that are not alive by what the fold has read, and
// that settled does not name.
func (f *pastFold) openNodes(i int, settled map[string]bool) map[string]bool {
	open := make(map[string]bool)
	a := f.states[i].Users[f.user]
	if a == nil || f.timeout <= 0 {
		return open
	}
	for _, ss := range a.Sessions {
		if ss.State != projector.StateBound && ss.State != projector.StateHibernated {
			continue
		}
		if !settled[ss.Node] && !f.alive(i, ss.Node) {
			open[ss.Node] = true
		}
	}
	return open
}

// settleLifecycle looks for a heartbeat at or before the cut of each open
// node that has sent no node event in what the fold has read. A node
// without one is settled, because the heartbeat timeout does not apply to
// it.
func (f *pastFold) settleLifecycle(ctx context.Context) error {
	f.lifecycleSettled = make([]map[string]bool, len(f.cuts))
	for i, cut := range f.cuts {
		f.lifecycleSettled[i] = make(map[string]bool)
		open := f.openNodes(i, nil)
		for _, node := range sortedKeys(open) {
			if n := f.states[i].Nodes[node]; n != nil && n.Lifecycle {
				continue
			}
			found := false
			r := scanRange{filters: []string{nodeTypeFilter(node, events.NodeHeartbeat)}}
			err := f.scan(ctx, r, func(e *events.Event, _ *jetstream.MsgMetadata) bool {
				if e.Time.After(cut) {
					return true
				}
				_ = f.states[i].Apply(e)
				found = true
				return false
			})
			if err != nil {
				return err
			}
			if !found {
				f.lifecycleSettled[i][node] = true
			}
		}
	}
	return nil
}

// settleSilentNodes scans the whole stream for events of the nodes still
// open, and stops once every one of them shows up alive at its cut.
func (f *pastFold) settleSilentNodes(ctx context.Context) error {
	open := make([]map[string]bool, len(f.cuts))
	remaining := 0
	for i := range f.cuts {
		open[i] = f.openNodes(i, f.lifecycleSettled[i])
		remaining += len(open[i])
	}
	if remaining == 0 {
		return nil
	}
	f.info.FullScan = true
	return f.scan(ctx, scanRange{}, func(e *events.Event, _ *jetstream.MsgMetadata) bool {
		for i, cut := range f.cuts {
			if !open[i][e.Node] || e.Time.After(cut) {
				continue
			}
			f.touchNode(i, e)
			if f.alive(i, e.Node) {
				delete(open[i], e.Node)
				remaining--
			}
		}
		return remaining > 0
	})
}

// touchNode records e as a sign of life of its node at cut i, as Apply
// does for every event, without folding another account's event into the
// state.
func (f *pastFold) touchNode(i int, e *events.Event) {
	if e.Type.IsNode() {
		_ = f.states[i].Apply(e)
		return
	}
	st := f.states[i]
	n := st.Nodes[e.Node]
	if n == nil {
		n = &projector.Node{}
		st.Nodes[e.Node] = n
	}
	if e.Time.After(n.LastSeen) {
		n.LastSeen = e.Time
	}
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

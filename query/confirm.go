package query

import (
	"strings"
	"sync"
	"time"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
)

// Defaults of RevokeTrackerConfig.
const (
	DefaultConfirmMaxAge     = time.Hour
	DefaultConfirmMaxPending = 100_000
	// recentEndings is the number of ending events that a tracker keeps
	// while a revoke is between resolving its targets and tracking them.
	recentEndings = 4096
)

// RevokeTrackerConfig sets up a RevokeTracker. The zero value works.
type RevokeTrackerConfig struct {
	// Metrics receives the confirmation times and the pending counts. When
	// nil, nothing is recorded.
	Metrics *Metrics
	// MaxAge is how long a revoke waits for its confirmation before the
	// tracker drops it and counts it as unconfirmed. 0 means
	// DefaultConfirmMaxAge.
	MaxAge time.Duration
	// MaxPending bounds the revokes waiting at once; beyond it the oldest is
	// dropped and counted as unconfirmed. 0 means DefaultConfirmMaxPending.
	MaxPending int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// RevokeTracker follows revoked clients until the projector has applied
// the events with which the nodes confirm that every session, grant and
// FAST token of the client has ended, and records the time from the revoke
// to that confirmation.
//
// These events confirm an item: session.unbound for the session, node.started
// and node.stopped for every session of that node, grant.revoked and
// grant.expired for the grant, fast.revoked for the token. Only the replica
// whose query service handled the revoke tracks it, and a restart forgets
// the revokes that were waiting. A RevokeTracker is safe for concurrent use.
type RevokeTracker struct {
	metrics    *Metrics
	maxAge     time.Duration
	maxPending int
	now        func() time.Time

	mu sync.Mutex
	// tick counts the ending events applied so far.
	tick uint64
	// items maps an item key to the revokes that wait for it.
	items map[string][]*pendingRevoke
	// queue holds the waiting revokes, oldest first. Confirmed and
	// cancelled revokes stay in it until they reach the front.
	queue   []*pendingRevoke
	pending int
	// watchers counts the revokes between watch and close, and recent holds
	// the ending events applied while there is one.
	watchers int
	recent   recentRing
}

// pendingRevoke is one revoked client waiting for its confirmation.
type pendingRevoke struct {
	start time.Time
	keys  []string
	open  int
	done  bool
}

// NewRevokeTracker returns a tracker and, when cfg.Metrics is set, makes
// the pending gauges of cfg.Metrics report it.
func NewRevokeTracker(cfg RevokeTrackerConfig) *RevokeTracker {
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultConfirmMaxAge
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultConfirmMaxPending
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	t := &RevokeTracker{
		metrics: cfg.Metrics, maxAge: cfg.MaxAge, maxPending: cfg.MaxPending, now: cfg.Now,
		items: make(map[string][]*pendingRevoke),
	}
	if cfg.Metrics != nil {
		cfg.Metrics.tracker.Store(t)
	}
	return t
}

// Item keys name a session by its node first, so that a node's restart
// can confirm all of its sessions by prefix.
func sessionItem(node, id, user string) string {
	return "session\x00" + node + "\x00" + id + "\x00" + user
}
func nodeSessions(node string) string          { return "session\x00" + node + "\x00" }
func grantItem(user, id string) string         { return "grant\x00" + user + "\x00" + id }
func fastItem(user, fingerprint string) string { return "fast\x00" + user + "\x00" + fingerprint }

// Applied takes note of an event that the projector applied; pass it as
// projector.Config.OnApply. It returns at once for events that end nothing.
func (t *RevokeTracker) Applied(e *events.Event) {
	var key string
	nodeWide := false
	switch e.Type {
	case events.SessionUnbound:
		if e.Session == nil {
			return
		}
		key = sessionItem(e.Node, e.Session.ID, e.User)
	case events.GrantRevoked, events.GrantExpired:
		if e.Grant == nil {
			return
		}
		key = grantItem(e.User, e.Grant.ID)
	case events.FastRevoked:
		if e.Fast == nil {
			return
		}
		key = fastItem(e.User, e.Fast.Fingerprint)
	case events.NodeStarted, events.NodeStopped:
		key, nodeWide = nodeSessions(e.Node), true
	default:
		return
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	t.tick++
	if nodeWide {
		// The projector calls Applied under its lock, so every Resolve that
		// returned before this call already showed the node's sessions as
		// ended. Only sessions tracked before this call can be ended by it.
		for k := range t.items {
			if strings.HasPrefix(k, key) {
				t.confirm(k)
			}
		}
		return
	}
	if t.watchers > 0 {
		t.recent.add(key, t.tick)
	}
	t.confirm(key)
}

// confirm marks item key ended for every revoke that waits for it.
func (t *RevokeTracker) confirm(key string) {
	waiting, ok := t.items[key]
	if !ok {
		return
	}
	delete(t.items, key)
	for _, p := range waiting {
		if p.done {
			continue
		}
		if p.open--; p.open == 0 {
			t.finish(p)
		}
	}
}

func (t *RevokeTracker) finish(p *pendingRevoke) {
	p.done = true
	t.pending--
	t.metrics.confirmed(t.now().Sub(p.start))
}

// drop stops waiting for p, and counts it as unconfirmed when expired.
func (t *RevokeTracker) drop(p *pendingRevoke, expired bool) {
	if p.done {
		return
	}
	p.done = true
	t.pending--
	for _, k := range p.keys {
		rest := t.items[k][:0]
		for _, q := range t.items[k] {
			if q != p {
				rest = append(rest, q)
			}
		}
		if len(rest) == 0 {
			delete(t.items, k)
		} else {
			t.items[k] = rest
		}
	}
	if expired {
		t.metrics.unconfirmed()
	}
}

// sweep drops the revokes older than maxAge and the oldest ones beyond
// maxPending, and removes finished ones from the front of the queue.
func (t *RevokeTracker) sweep(now time.Time) {
	for len(t.queue) > 0 {
		p := t.queue[0]
		switch {
		case p.done:
		case now.Sub(p.start) > t.maxAge, t.pending > t.maxPending:
			t.drop(p, true)
		default:
			return
		}
		t.queue[0] = nil
		t.queue = t.queue[1:]
	}
}

// Pending returns the number of revokes waiting for their confirmation and
// the age of the oldest one, after dropping the expired ones.
func (t *RevokeTracker) Pending() (int, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.sweep(now)
	for _, p := range t.queue {
		if !p.done {
			return t.pending, max(now.Sub(p.start), 0)
		}
	}
	return t.pending, 0
}

// revokeWatch is one revoke request from before it resolves its targets
// until it has tracked them. Ending events applied in between are kept, so
// that an item that ended right after Resolve does not wait forever. A nil
// *revokeWatch tracks nothing.
type revokeWatch struct {
	t     *RevokeTracker
	since uint64
}

// watch starts a revoke request. Call it before resolving the targets, and
// close the result when done.
func (t *RevokeTracker) watch() *revokeWatch {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.watchers++
	return &revokeWatch{t: t, since: t.tick}
}

func (w *revokeWatch) close() {
	if w == nil {
		return
	}
	t := w.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.watchers--; t.watchers == 0 {
		t.recent.clear()
	}
}

// track starts waiting for the sessions, grants and FAST tokens of target,
// a client of user. It returns nil, and waits for nothing, when target has
// none.
func (w *revokeWatch) track(user string, target projector.Target) *pendingRevoke {
	if w == nil {
		return nil
	}
	keys := targetItems(user, target)
	if len(keys) == 0 {
		return nil
	}
	t := w.t
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	p := &pendingRevoke{start: now}
	t.pending++
	t.queue = append(t.queue, p)
	for _, k := range keys {
		if t.recent.since(k, w.since) {
			continue
		}
		p.keys = append(p.keys, k)
		t.items[k] = append(t.items[k], p)
		p.open++
	}
	if p.open == 0 {
		t.finish(p)
	}
	t.sweep(now)
	if len(t.queue) > 2*t.pending+compactSlack {
		t.compact()
	}
	return p
}

// compactSlack is the number of finished revokes beyond twice the pending
// ones that the queue may hold before compact removes them.
const compactSlack = 1024

// compact removes the finished revokes from the queue, which sweep leaves
// behind an old pending one.
func (t *RevokeTracker) compact() {
	open := t.queue[:0]
	for _, p := range t.queue {
		if !p.done {
			open = append(open, p)
		}
	}
	clear(t.queue[len(open):])
	t.queue = open
}

// cancel stops waiting for p, whose revoke was not stored.
func (w *revokeWatch) cancel(p *pendingRevoke) {
	if w == nil || p == nil {
		return
	}
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	w.t.drop(p, false)
}

// targetItems returns the distinct item keys of target.
func targetItems(user string, target projector.Target) []string {
	seen := make(map[string]bool)
	var keys []string
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for _, s := range target.Sessions {
		add(sessionItem(s.Node, s.ID, user))
	}
	for _, g := range target.Grants {
		add(grantItem(user, g))
	}
	for _, f := range target.Fast {
		add(fastItem(user, f))
	}
	return keys
}

// recentRing keeps the newest ending events with the tick at which each
// was applied, up to recentEndings of them.
type recentRing struct {
	ticks map[string]uint64
	ring  []recentEnding
	next  int
}

type recentEnding struct {
	key  string
	tick uint64
}

func (r *recentRing) add(key string, tick uint64) {
	if r.ticks == nil {
		r.ticks = make(map[string]uint64)
	}
	if len(r.ring) < recentEndings {
		r.ring = append(r.ring, recentEnding{key, tick})
	} else {
		// NOTE: an item that ended more than recentEndings ending events
		// before its revoke was tracked is forgotten here, and that revoke
		// then waits until MaxAge.
		old := r.ring[r.next]
		if r.ticks[old.key] == old.tick {
			delete(r.ticks, old.key)
		}
		r.ring[r.next] = recentEnding{key, tick}
		r.next = (r.next + 1) % recentEndings
	}
	r.ticks[key] = tick
}

// since reports whether key ended after tick.
func (r *recentRing) since(key string, tick uint64) bool {
	t, ok := r.ticks[key]
	return ok && t > tick
}

func (r *recentRing) clear() {
	r.ticks, r.ring, r.next = nil, nil, 0
}

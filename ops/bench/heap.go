package bench

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"time"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
)

// heapNodes are the nodes that host the sessions of the heap figure.
var heapNodes = []string{"xmpp-1", "xmpp-2", "xmpp-3"}

// measureHeap folds the events of cfg.HeapUsers accounts with
// ClientsPerHeapUser clients each into a new projector State, without NATS,
// and returns the growth of the live Go heap per listed client. The events
// are built in memory with every string freshly allocated, as decoding
// them from the stream would, and validated like decoded events.
func measureHeap(ctx context.Context, cfg Config) (Result, error) {
	res := Result{
		Name: MeasureHeap, Title: "Go heap per tracked client", Unit: "bytes",
		Target: Target{Figure: "value", Op: "<=", Value: 256},
	}
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	before := liveHeap()
	start := time.Now()

	s := projector.NewState()
	rng := rand.New(rand.NewPCG(cfg.Seed, 4))
	for i, node := range heapNodes {
		e := &events.Event{ID: "boot-" + node, Type: events.NodeStarted, V: events.Version, Time: base, Node: node, Boot: "boot-" + strconv.Itoa(i)}
		if err := s.Apply(e); err != nil {
			return res, err
		}
	}
	for u := range cfg.HeapUsers {
		if u%50_000 == 0 {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			cfg.Progress(Progress{Measurement: MeasureHeap, Step: "fold accounts", Done: u, Total: cfg.HeapUsers})
		}
		for _, e := range heapAccountEvents(rng, u, base) {
			if err := events.Validate(e); err != nil {
				return res, fmt.Errorf("bench: heap event %s: %w", e.ID, err)
			}
			if err := s.Apply(e); err != nil {
				return res, fmt.Errorf("bench: heap event %s: %w", e.ID, err)
			}
		}
	}
	folded := time.Since(start)
	after := liveHeap()

	cfg.Progress(Progress{Measurement: MeasureHeap, Step: "count listed clients", Total: cfg.HeapUsers})
	opt := projector.ViewOptions{Now: base.Add(time.Hour)}
	clients := 0
	for u := range cfg.HeapUsers {
		clients += len(s.Clients(heapUser(u), opt))
	}
	runtime.KeepAlive(s)
	if want := cfg.HeapUsers * ClientsPerHeapUser; clients != want {
		return res, fmt.Errorf("bench: heap state lists %d clients, want %d", clients, want)
	}

	grown := float64(after) - float64(before)
	res.Clientele = grown / float64(clients)
	res.Details = map[string]float64{
		"users": float64(cfg.HeapUsers), "clients": float64(clients),
		"heap_bytes": grown, "fold_seconds": folded.Seconds(),
		"events_per_s": rate(cfg.HeapUsers*heapEventsPerUser, folded),
	}
	res.judge(false)
	return res, nil
}

// liveHeap collects garbage and returns the bytes of live heap objects.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func heapUser(u int) string { return "user" + strconv.Itoa(u) + "@example.test" }

// heapEventsPerUser is the number of events that heapAccountEvents returns.
const heapEventsPerUser = 8

// heapAccountEvents returns the events of one account of the heap figure.
// Its phone logged in with the password, minted a FAST token, bound a
// session and hibernated it. Its desktop client has a bound password
// session, and its web app an OAuth grant that it used.
func heapAccountEvents(rng *rand.Rand, u int, base time.Time) []*events.Event {
	user := heapUser(u)
	at := func(ms int) time.Time { return base.Add(time.Duration(u%3600_000+ms) * time.Millisecond) }
	event := func(t events.Type, ms int, node string) *events.Event {
		return &events.Event{ID: randomText(rng, 13), Type: t, V: events.Version, Time: at(ms), Node: node, User: fresh(user)}
	}
	phone, desktop := randomUUID(rng), randomUUID(rng)
	phoneSession, desktopSession := randomText(rng, 8), randomText(rng, 8)
	phoneResource, desktopResource := "Conversations."+randomText(rng, 3), "gajim."+randomText(rng, 4)
	grant, fingerprint := randomText(rng, 11), "sha256:"+randomText(rng, 32)
	node := heapNodes[u%len(heapNodes)]

	conversations := func(id string) *events.Client {
		return &events.Client{ID: fresh(id), Software: fresh("Conversations"), Version: fresh("2.16.7"), URI: fresh("https://conversations.im/"), Device: fresh("Pixel 8")}
	}
	gajim := &events.Client{ID: desktop, Software: fresh("Gajim"), Version: fresh("1.9.5"), URI: fresh("https://gajim.org/"), Device: fresh("laptop")}

	evs := make([]*events.Event, 0, heapEventsPerUser)
	e := event(events.AuthPassword, 0, node)
	e.Session, e.Client, e.Mechanism = &events.Session{ID: phoneSession}, conversations(phone), fresh("SCRAM-SHA-256")
	evs = append(evs, e)
	e = event(events.FastMinted, 1, node)
	e.Client, e.Fast = conversations(phone), &events.Fast{Fingerprint: fingerprint, Expires: at(0).Add(30 * 24 * time.Hour)}
	evs = append(evs, e)
	e = event(events.SessionBound, 2, node)
	e.Session, e.Client = &events.Session{ID: fresh(phoneSession), Resource: phoneResource}, &events.Client{ID: fresh(phone)}
	evs = append(evs, e)
	e = event(events.SessionHibernated, 60_000, node)
	e.Session = &events.Session{ID: fresh(phoneSession)}
	evs = append(evs, e)

	e = event(events.AuthPassword, 10, node)
	e.Session, e.Client, e.Mechanism = &events.Session{ID: desktopSession}, gajim, fresh("SCRAM-SHA-256")
	evs = append(evs, e)
	e = event(events.SessionBound, 11, node)
	e.Session, e.Client = &events.Session{ID: fresh(desktopSession), Resource: desktopResource}, &events.Client{ID: fresh(desktop)}
	evs = append(evs, e)

	meta := func() *events.Grant {
		return &events.Grant{ID: fresh(grant), Name: fresh("Movim"), URI: fresh("https://movim.eu/"), SoftwareID: fresh("movim"),
			SoftwareVersion: fresh("0.29"), Permission: fresh(events.PermissionNormal), Expires: at(0).Add(90 * 24 * time.Hour)}
	}
	e = event(events.GrantIssued, 20, "xmpp-1")
	e.Grant = meta()
	evs = append(evs, e)
	e = event(events.GrantUsed, 120_000, "xmpp-1")
	e.Grant = meta()
	return append(evs, e)
}

// fresh returns a copy of s in new memory, as a decoder returns strings.
func fresh(s string) string {
	return string([]byte(s))
}

// randomText returns 2n lowercase hex digits of rng in new memory.
func randomText(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return hex.EncodeToString(b)
}

// randomUUID returns a version 4 UUID of rng, the usual form of a SASL2
// client id.
func randomUUID(rng *rand.Rand) string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

package reliability_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

// snapshotBucket is the object store bucket that serve keeps its snapshot
// in, with the object name snapshotObject.
const (
	snapshotBucket = "clientele-snapshots"
	snapshotObject = "state"
)

// crashPlan sizes a crash consistency run.
type crashPlan struct {
	kills int
	users int
	// batch is the number of new events per publish, and pace the pause
	// between two publishes.
	batch int
	pace  time.Duration
	// Each kill lands between minUp and maxUp after serve was ready, or
	// during the next snapshot write.
	minUp, maxUp time.Duration
	// damageEvery damages the newest snapshot in the bucket's files on
	// disk at every damageEvery-th kill, flipping a byte and cutting the
	// file off in turn.
	damageEvery int
}

func crashPlanFor(long bool) crashPlan {
	if long {
		return crashPlan{kills: 200, users: 300, batch: 20, pace: 10 * time.Millisecond, minUp: 50 * time.Millisecond, maxUp: 1500 * time.Millisecond, damageEvery: 5}
	}
	return crashPlan{kills: 20, users: 60, batch: 20, pace: 10 * time.Millisecond, minUp: 50 * time.Millisecond, maxUp: 600 * time.Millisecond, damageEvery: 10}
}

// crashStats are the numbers of a crash consistency run.
type crashStats struct {
	restarts, aimedAtSnapshot              int
	loaded, skipped, absent, discarded     int
	damaged, damagedSkipped, damagedLoaded int
	checks, divergent                      int
	generated, acknowledged, failures      int
	lost, storedTwice, orphanedChunks      int
	bucketMsgs, bucketBytes                uint64
}

func (s crashStats) String() string {
	return fmt.Sprintf("%d restarts after SIGKILL (%d aimed at a snapshot write); "+
		"snapshots at start: %d loaded, %d skipped as invalid, %d absent, %d discarded as ahead; "+
		"%d starts after damage to the newest snapshot chunk on disk: %d skipped the snapshot, %d loaded one that the filestore recovered; "+
		"%d events generated, %d acknowledged, %d failed publishes retried; "+
		"%d lost, %d stored twice; %d view checks, %d divergent; "+
		"%d chunk sets of interrupted snapshot writes left behind, the bucket holds %d messages of %d bytes",
		s.restarts, s.aimedAtSnapshot, s.loaded, s.skipped, s.absent, s.discarded,
		s.damaged, s.damagedSkipped, s.damagedLoaded,
		s.generated, s.acknowledged, s.failures, s.lost, s.storedTwice, s.checks, s.divergent,
		s.orphanedChunks, s.bucketMsgs, s.bucketBytes)
}

// TestCrashConsistency kills `clientele serve` with SIGKILL at random
// moments while a node publishes, some aimed at snapshot writes and some
// followed by damage to the snapshot's files, and restarts it each time.
// After every restart the service's views must equal a fresh replay of the
// whole stream. At the end no acknowledged event may be missing, and the
// stored snapshot must equal the replay.
func TestCrashConsistency(t *testing.T) {
	plan := crashPlanFor(longRun())
	ctx := context.Background()
	dataDir := t.TempDir()
	natsURL := "nats://" + loopback(freePort(t))
	srv := newServe(t, "serve", "--data-dir", dataDir, "--nats-listen", strings.TrimPrefix(natsURL, "nats://"), "--snapshot-interval", "100ms")
	srv.startReady()

	nc, js := connect(t, natsURL)
	qc := query.NewClient(nc)
	const domain = "crash.test"
	users := userNames(plan.users, domain)
	tr := newTracker(js, newGenerator(t, 8, 3, plan.users, domain),
		events.PublisherOptions{Retries: 1, Backoff: 20 * time.Millisecond, AckTimeout: 500 * time.Millisecond})

	pub := startPublishing(ctx, tr, plan.batch, plan.pace)
	m := newMirror()
	rng := rand.New(rand.NewPCG(8, 8))
	var stats crashStats
	for round := 1; round <= plan.kills; round++ {
		if round%2 == 0 && aimAtSnapshot(srv, rng) {
			stats.aimedAtSnapshot++
		} else {
			time.Sleep(plan.minUp + rand.N(plan.maxUp-plan.minUp))
		}
		srv.kill()
		stats.restarts++
		damaged := round%plan.damageEvery == 0
		if damaged {
			if err := damageSnapshot(dataDir, round%(2*plan.damageEvery) != 0, rng); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}

		offset := srv.logSize()
		srv.startReady()
		stats.countRestore(logRecords(srv.logSince(offset)), damaged)

		pub.pause()
		divergent, err := compareAfterCatchUp(ctx, js, qc, m, users)
		pub.resume()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		stats.checks += len(users)
		stats.divergent += len(divergent)
		for _, d := range divergent {
			t.Errorf("round %d: views differ from a replay for %s", round, d)
		}
	}
	if err := pub.stop(); err != nil {
		t.Fatal(err)
	}
	drainCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := tr.drain(drainCtx); err != nil {
		t.Fatal(err)
	}

	divergent, err := compareAfterCatchUp(ctx, js, qc, m, users)
	if err != nil {
		t.Fatal(err)
	}
	stats.checks += len(users)
	stats.divergent += len(divergent)
	for _, d := range divergent {
		t.Errorf("after the last restart: views differ from a replay for %s", d)
	}
	checkNothingLost(t, tr, m, &stats)
	checkStoredSnapshot(t, ctx, srv, js, m, users)
	stats.orphanedChunks, stats.bucketMsgs, stats.bucketBytes = snapshotBucketUsage(t, ctx, js)

	t.Logf("crash consistency: %s", stats)
	if stats.lost+stats.divergent > 0 {
		t.Errorf("%d acknowledged events lost, %d divergent views", stats.lost, stats.divergent)
	}
}

// countRestore counts how the projector started, from the log of one start.
// After damage to the newest chunk, the filestore may still recover an
// intact snapshot: an older one, or the last complete one when the damaged
// chunk belonged to an interrupted write.
func (s *crashStats) countRestore(records []logRecord, damaged bool) {
	if damaged {
		s.damaged++
	}
	for _, r := range records {
		switch r.Msg {
		case "snapshot loaded":
			s.loaded++
			if damaged {
				s.damagedLoaded++
			}
		case "snapshot skipped, replaying the whole stream":
			s.skipped++
			if damaged {
				s.damagedSkipped++
			}
		case "no snapshot, replaying the whole stream":
			s.absent++
		case "snapshot is ahead of the stream, replaying the whole stream":
			s.discarded++
		}
	}
}

// compareAfterCatchUp folds the stream into m and compares the service's
// views of users with it, folding more when the service has applied more.
func compareAfterCatchUp(ctx context.Context, js jetstream.JetStream, qc *query.Client, m *mirror, users []string) ([]divergence, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := m.catchUp(ctx, js); err != nil {
		return nil, err
	}
	for {
		applied := m.applied
		divergent, err := compareService(ctx, qc, m, users)
		if err == nil {
			return divergent, nil
		}
		// Publishes that the test's client buffered while NATS was down
		// may arrive after the catch-up: fold them and compare again.
		if cerr := m.catchUp(ctx, js); cerr != nil {
			return nil, errors.Join(err, cerr)
		}
		if m.applied == applied {
			return nil, err
		}
	}
}

// aimAtSnapshot waits for the next snapshot write of srv and returns inside
// it, judged from the time and duration of the last "snapshot stored" log
// record and the 100ms snapshot interval. It returns false at once when
// the log has no such record since the last start.
func aimAtSnapshot(srv *serveProcess, rng *rand.Rand) bool {
	const interval = 100 * time.Millisecond
	time.Sleep(150 * time.Millisecond)
	var last *logRecord
	for _, r := range logRecords(srv.logSince(0)) {
		if r.Msg == "snapshot stored" {
			last = &r
		}
	}
	if last == nil || time.Since(last.Time) > 5*time.Second {
		return false
	}
	took := time.Duration(last.Duration)
	next := last.Time.Add(-took + interval)
	for time.Until(next) < 5*time.Millisecond {
		next = next.Add(max(interval, took))
	}
	time.Sleep(time.Until(next) + time.Duration(rng.Int64N(int64(took)+int64(time.Millisecond))))
	return true
}

// s2Header is the stream identifier that starts every S2 stream, and so
// the first chunk of every stored snapshot.
var s2Header = []byte("\xff\x06\x00\x00S2sTwO")

// damageSnapshot finds the newest snapshot in the message blocks of the
// snapshot bucket's stream, in the embedded server's store under dataDir,
// and flips a byte inside its first chunk or, with flip false, cuts the
// block off inside that chunk. The server must not be running.
func damageSnapshot(dataDir string, flip bool, rng *rand.Rand) error {
	blocks, err := filepath.Glob(filepath.Join(dataDir, "jetstream", "*", "streams", "OBJ_"+snapshotBucket, "msgs", "*.blk"))
	if err != nil || len(blocks) == 0 {
		return fmt.Errorf("no message block of the snapshot bucket under %s: %v", dataDir, err)
	}
	slices.SortFunc(blocks, func(a, b string) int { return blockNumber(a) - blockNumber(b) })
	for i := len(blocks) - 1; i >= 0; i-- {
		data, err := os.ReadFile(blocks[i])
		if err != nil {
			return err
		}
		at := bytes.LastIndex(data, s2Header)
		if at < 0 {
			continue
		}
		at += len(s2Header) + rng.IntN(min(500, len(data)-at-len(s2Header)))
		if flip {
			data[at] ^= 0xff
		} else {
			data = data[:at]
		}
		return os.WriteFile(blocks[i], data, 0o600)
	}
	return fmt.Errorf("no snapshot found in the message blocks %v", blocks)
}

// blockNumber returns the number of a message block file such as 12.blk.
func blockNumber(path string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(path), ".blk"))
	return n
}

// checkNothingLost checks that every acknowledged event is stored at its
// acknowledged sequence and counts events stored twice.
func checkNothingLost(t *testing.T, tr *tracker, m *mirror, stats *crashStats) {
	t.Helper()
	lost, twice := tr.check(m)
	stats.lost, stats.storedTwice = len(lost), len(twice)
	stats.generated, stats.acknowledged, stats.failures = tr.generated, len(tr.acked), tr.failures
	for _, id := range lost {
		t.Errorf("acknowledged event lost: %s", id)
	}
	if len(twice) > 0 {
		t.Logf("%d events stored more than once, which the fold ignores: %v", len(twice), twice[:min(5, len(twice))])
	}
	if len(tr.acked) != tr.generated {
		t.Errorf("%d of %d generated events acknowledged", len(tr.acked), tr.generated)
	}
	if m.rejected > 0 {
		t.Errorf("the replay rejected %d stored messages", m.rejected)
	}
}

// checkStoredSnapshot stops srv with SIGTERM, which writes a final
// snapshot, and starts it again. The snapshot it loads must be the state of
// a fresh replay at the same sequence, in full and as views at a fixed time
// with the heartbeat timeout on.
func checkStoredSnapshot(t *testing.T, ctx context.Context, srv *serveProcess, js jetstream.JetStream, m *mirror, users []string) {
	t.Helper()
	if err := srv.stop(); err != nil {
		t.Errorf("serve after SIGTERM: %v", err)
	}
	offset := srv.logSize()
	srv.startReady()
	loaded := false
	for _, r := range logRecords(srv.logSince(offset)) {
		loaded = loaded || r.Msg == "snapshot loaded"
	}
	if !loaded {
		t.Errorf("serve did not load the snapshot of its graceful stop")
	}

	store, err := js.ObjectStore(ctx, snapshotBucket)
	if err != nil {
		t.Fatal(err)
	}
	data, err := store.GetBytes(ctx, snapshotObject)
	if err != nil {
		t.Fatal(err)
	}
	state, seq, err := projector.DecodeSnapshot(data)
	if err != nil {
		t.Fatal(err)
	}
	if seq != m.applied {
		t.Fatalf("final snapshot at sequence %d, want the stream's last %d", seq, m.applied)
	}
	if got, want := mustJSON(state), mustJSON(m.state); got != want {
		t.Errorf("final snapshot differs from a replay of the stream (%d and %d bytes of JSON)", len(got), len(want))
	}
	opts := projector.ViewOptions{Now: simulatedStart.Add(6 * time.Hour), HeartbeatTimeout: 2 * time.Minute}
	for _, user := range users {
		if got, want := clientsJSON(state, user, opts), clientsJSON(m.state, user, opts); got != want {
			t.Errorf("snapshot views of %s differ from a replay:\nsnapshot: %s\nreplay:   %s", user, got, want)
		}
	}
}

// snapshotBucketUsage returns the chunk sets of the snapshot bucket that no
// object refers to, and the messages and bytes of the bucket's stream. A
// snapshot write that a kill interrupted leaves its chunks behind, and so
// does one that a kill stopped before it removed the previous chunks.
func snapshotBucketUsage(t *testing.T, ctx context.Context, js jetstream.JetStream) (orphans int, msgs, size uint64) {
	t.Helper()
	store, err := js.ObjectStore(ctx, snapshotBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := store.GetInfo(ctx, snapshotObject)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, "OBJ_"+snapshotBucket)
	if err != nil {
		t.Fatal(err)
	}
	sinfo, err := stream.Info(ctx, jetstream.WithSubjectFilter("$O."+snapshotBucket+".C.>"))
	if err != nil {
		t.Fatal(err)
	}
	for subject := range sinfo.State.Subjects {
		if !strings.HasSuffix(subject, "."+info.NUID) {
			orphans++
		}
	}
	return orphans, sinfo.State.Msgs, sinfo.State.Bytes
}

// publishing runs tracker steps on a goroutine until stopped. A pause
// waits for the step in progress, so that the stream stops growing.
type publishing struct {
	gate sync.Mutex
	quit chan struct{}
	done chan error
}

func startPublishing(ctx context.Context, tr *tracker, batch int, pace time.Duration) *publishing {
	p := &publishing{quit: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		for {
			select {
			case <-p.quit:
				p.done <- nil
				return
			default:
			}
			p.gate.Lock()
			_, err := tr.step(ctx, batch)
			p.gate.Unlock()
			if err != nil {
				p.done <- err
				return
			}
			time.Sleep(pace)
		}
	}()
	return p
}

func (p *publishing) pause()  { p.gate.Lock() }
func (p *publishing) resume() { p.gate.Unlock() }

// stop ends the publishing and returns the error that ended it early.
func (p *publishing) stop() error {
	close(p.quit)
	return <-p.done
}

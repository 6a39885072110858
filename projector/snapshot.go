package projector

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// snapshotObject is the object name of the snapshot in its bucket.
const snapshotObject = "state"

// snapshotFormat is the version of the snapshot encoding.
const snapshotFormat = 1

// snapshot is the stored form of a State: gzip-compressed JSON.
type snapshot struct {
	Format  int       `json:"format"`
	Seq     uint64    `json:"seq"`
	Created time.Time `json:"created"`
	State   *State    `json:"state"`
}

// EncodeSnapshot returns the stored form of s after stream sequence seq.
func EncodeSnapshot(s *State, seq uint64) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(snapshot{Format: snapshotFormat, Seq: seq, Created: time.Now().UTC(), State: s}); err != nil {
		return nil, fmt.Errorf("projector: encode snapshot: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("projector: encode snapshot: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeSnapshot parses a stored snapshot. It returns an error wrapping
// ErrSnapshotInvalid for a torn, corrupt or unknown snapshot.
func DecodeSnapshot(data []byte) (*State, uint64, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrSnapshotInvalid, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrSnapshotInvalid, err)
	}
	var snap snapshot
	if err := json.Unmarshal(raw, &snap); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrSnapshotInvalid, err)
	}
	if snap.Format != snapshotFormat || snap.State == nil {
		return nil, 0, fmt.Errorf("%w: format %d, want %d", ErrSnapshotInvalid, snap.Format, snapshotFormat)
	}
	snap.State.fill()
	return snap.State, snap.Seq, nil
}

// fill replaces the nil maps that JSON leaves for empty ones.
func (s *State) fill() {
	if s.Users == nil {
		s.Users = make(map[string]*Account)
	}
	if s.Nodes == nil {
		s.Nodes = make(map[string]*Node)
	}
	for _, a := range s.Users {
		if a.Sessions == nil {
			a.Sessions = make(map[string]*Session)
		}
		if a.Clients == nil {
			a.Clients = make(map[string]*ClientRecord)
		}
		if a.Grants == nil {
			a.Grants = make(map[string]*GrantRecord)
		}
		if a.Fast == nil {
			a.Fast = make(map[string]*FastRecord)
		}
		if a.Revoked == nil {
			a.Revoked = make(map[string]time.Time)
		}
	}
}

func (r *Runner) snapshotStore(ctx context.Context) (jetstream.ObjectStore, error) {
	store, err := r.cfg.JS.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      r.cfg.SnapshotBucket,
		Description: "clientele projector snapshots",
		Storage:     jetstream.FileStorage,
		Replicas:    max(r.cfg.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("projector: snapshot bucket %s: %w", r.cfg.SnapshotBucket, err)
	}
	return store, nil
}

// restore loads the stored snapshot, if there is a valid one. A missing or
// invalid snapshot leaves the empty state, so that Run replays the stream.
func (r *Runner) restore(ctx context.Context, store jetstream.ObjectStore) {
	data, err := store.GetBytes(ctx, snapshotObject)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		r.log.Info("no snapshot, replaying the whole stream")
		return
	}
	var state *State
	var seq uint64
	if err == nil {
		state, seq, err = DecodeSnapshot(data)
	}
	if err != nil {
		r.log.Warn("snapshot skipped, replaying the whole stream", "bucket", r.cfg.SnapshotBucket, "error", err)
		if m := r.cfg.Metrics; m != nil {
			m.snapFailures.Inc()
		}
		return
	}
	r.mu.Lock()
	r.state, r.applied = state, seq
	r.mu.Unlock()
	if m := r.cfg.Metrics; m != nil {
		m.snapSize.Set(float64(len(data)))
		m.snapTime.SetToCurrentTime()
	}
	r.log.Info("snapshot loaded", "seq", seq, "bytes", len(data), "users", len(state.Users))
}

// discardSnapshotAhead drops a restored state that is ahead of the stream,
// as after the stream was deleted and created anew.
func (r *Runner) discardSnapshotAhead(lastSeq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.applied <= lastSeq {
		return
	}
	r.log.Warn("snapshot is ahead of the stream, replaying the whole stream", "snapshot_seq", r.applied, "stream_last_seq", lastSeq)
	r.state, r.applied = NewState(), 0
}

// writeSnapshot encodes the state under the read lock and stores it.
func (r *Runner) writeSnapshot(ctx context.Context, store jetstream.ObjectStore) error {
	start := time.Now()
	r.mu.RLock()
	seq := r.applied
	data, err := EncodeSnapshot(r.state, seq)
	r.mu.RUnlock()
	if err == nil {
		_, err = store.PutBytes(ctx, snapshotObject, data)
	}
	m := r.cfg.Metrics
	if err != nil {
		if m != nil {
			m.snapFailures.Inc()
		}
		return fmt.Errorf("projector: store snapshot at sequence %d: %w", seq, err)
	}
	if m != nil {
		m.snapDuration.Observe(time.Since(start).Seconds())
		m.snapSize.Set(float64(len(data)))
		m.snapTime.SetToCurrentTime()
	}
	r.log.Info("snapshot stored", "seq", seq, "bytes", len(data), "duration", time.Since(start))
	return nil
}

// Snapshot stores a snapshot of the current state now.
func (r *Runner) Snapshot(ctx context.Context) error {
	store, err := r.snapshotStore(ctx)
	if err != nil {
		return err
	}
	return r.writeSnapshot(ctx, store)
}

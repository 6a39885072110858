package projector

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// snapshotObject is the object name of the snapshot in its bucket.
const snapshotObject = "state"

// snapshotBatch is the size in bytes of encoded accounts after which
// writeSnapshot releases the state lock and writes them out.
const snapshotBatch = 1 << 20

// EncodeSnapshot returns the stored form of s after stream sequence seq:
// the binary body that snapcodec.go describes, compressed as an S2 stream.
func EncodeSnapshot(s *State, seq uint64) ([]byte, error) {
	var buf bytes.Buffer
	zw := newCompressor(&buf)
	enc := newSnapshotEncoder(seq, time.Now())
	for user, a := range s.Users {
		enc.account(user, a)
	}
	enc.finish(s.Nodes)
	if _, err := zw.Write(enc.take()); err != nil {
		return nil, fmt.Errorf("projector: encode snapshot: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("projector: encode snapshot: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeSnapshot parses a stored snapshot. It returns an error wrapping
// ErrSnapshotInvalid for a torn, corrupt or unknown snapshot, which
// includes the JSON snapshots of format 1 that earlier versions wrote.
func DecodeSnapshot(data []byte) (*State, uint64, error) {
	return decodeSnapshotFrom(bytes.NewReader(data), len(data))
}

// decodeSnapshotFrom decompresses and parses a stored snapshot of about
// size bytes as r delivers it. A read error of r makes the snapshot
// invalid.
func decodeSnapshotFrom(r io.Reader, size int) (*State, uint64, error) {
	zr, err := newDecompressor(r)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrSnapshotInvalid, err)
	}
	// The body compresses to about 65% of its size (see compress.go), so
	// 5/3 of the stored size mostly spares the buffer from growing.
	var raw bytes.Buffer
	raw.Grow(size * 5 / 3)
	if _, err := raw.ReadFrom(zr); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrSnapshotInvalid, err)
	}
	s, seq, err := decodeSnapshotBody(raw.Bytes())
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrSnapshotInvalid, err)
	}
	return s, seq, nil
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
	state, seq, size, err := r.load(ctx, store)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		r.log.Info("no snapshot, replaying the whole stream")
		return
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
	r.wakeLocked()
	r.mu.Unlock()
	if m := r.cfg.Metrics; m != nil {
		m.snapshotTaken(size, seq)
	}
	r.log.Info("snapshot loaded", "seq", seq, "bytes", size, "users", len(state.Users))
}

// load reads and decodes the stored snapshot. It decompresses the chunks
// as they arrive, and the object store checks their digest at the end, so
// a damaged chunk fails the read.
func (r *Runner) load(ctx context.Context, store jetstream.ObjectStore) (*State, uint64, int, error) {
	obj, err := store.Get(ctx, snapshotObject)
	if err != nil {
		return nil, 0, 0, err
	}
	defer obj.Close()
	info, err := obj.Info()
	if err != nil {
		return nil, 0, 0, err
	}
	state, seq, err := decodeSnapshotFrom(obj, int(info.Size))
	return state, seq, int(info.Size), err
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

// writeSnapshot encodes the state and streams it into the bucket. It holds
// the read lock only while it encodes a batch of accounts, so that the
// consumer goes on applying events while the snapshot is written. Accounts
// encoded after such events then include them although the snapshot
// records an earlier sequence. A restore replays those events once more.
// That changes nothing, because applying an event again after the events
// that followed it leaves the views as they were, which the property tests
// check. account.forgotten, the one event whose order matters, is replayed
// before the events that followed it too.
func (r *Runner) writeSnapshot(ctx context.Context, store jetstream.ObjectStore) error {
	start := time.Now()
	pr, pw := io.Pipe()
	// The object store stores each read from the pipe as one chunk
	// message, so writes are gathered into chunks of 128 KiB.
	buffered := bufio.NewWriterSize(pw, 128<<10)
	counter := &countingWriter{w: buffered}
	encoded := make(chan error, 1)

	r.mu.RLock()
	seq, state := r.applied, r.state
	r.mu.RUnlock()

	go func() {
		err := r.encodeSnapshot(counter, state, seq)
		if err == nil {
			err = buffered.Flush()
		}
		pw.CloseWithError(err)
		encoded <- err
	}()
	_, err := store.Put(ctx, jetstream.ObjectMeta{Name: snapshotObject}, pr)
	pr.CloseWithError(errSnapshotAborted)
	if eerr := <-encoded; eerr != nil && !errors.Is(eerr, errSnapshotAborted) {
		err = eerr
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
		m.snapshotTaken(int(counter.n), seq)
	}
	r.log.Info("snapshot stored", "seq", seq, "bytes", counter.n, "duration", time.Since(start))
	r.purgeOrphanedChunks(ctx, store)
	return nil
}

// errSnapshotAborted ends the encoding of a snapshot that the bucket did
// not take.
var errSnapshotAborted = errors.New("projector: snapshot write aborted")

// encodeSnapshot writes the compressed snapshot of state, taken after seq,
// to w. It reads state under the read lock, in batches (see writeSnapshot).
func (r *Runner) encodeSnapshot(w io.Writer, state *State, seq uint64) error {
	zw := newCompressor(w)
	enc := newSnapshotEncoder(seq, time.Now())
	r.mu.RLock()
	for user, a := range state.Users {
		enc.account(user, a)
		if len(enc.buf) < snapshotBatch {
			continue
		}
		batch := enc.take()
		r.mu.RUnlock()
		_, err := zw.Write(batch)
		r.mu.RLock()
		if err != nil {
			r.mu.RUnlock()
			return err
		}
	}
	enc.finish(state.Nodes)
	r.mu.RUnlock()
	if _, err := zw.Write(enc.take()); err != nil {
		return err
	}
	return zw.Close()
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Snapshot stores a snapshot of the current state now.
func (r *Runner) Snapshot(ctx context.Context) error {
	store, err := r.snapshotStore(ctx)
	if err != nil {
		return err
	}
	return r.writeSnapshot(ctx, store)
}

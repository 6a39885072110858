package projector

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/ops/natstest"
)

// TestWriteSnapshotPurgesOrphanedChunks leaves chunks of an interrupted
// snapshot write in the bucket, as a crash does, and checks that a later
// write removes them once they are old enough, and keeps the snapshot.
func TestWriteSnapshotPurgesOrphanedChunks(t *testing.T) {
	cases := []struct {
		name   string
		age    time.Duration
		purged bool
	}{
		{"old orphan", 0, true},
		{"young orphan", time.Hour, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func(age time.Duration) { orphanChunkAge = age }(orphanChunkAge)
			orphanChunkAge = tc.age

			_, js := natstest.Start(t).Connect(t)
			ctx := context.Background()
			r := NewRunner(Config{JS: js, SnapshotBucket: "snap", SnapshotInterval: -1})
			store, err := r.snapshotStore(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.writeSnapshot(ctx, store); err != nil {
				t.Fatal(err)
			}
			const orphan = "$O.snap.C.INTERRUPTEDWRITE0000000000"
			for range 3 {
				if _, err := js.Publish(ctx, orphan, []byte("chunk of a write that a crash ended")); err != nil {
					t.Fatal(err)
				}
			}

			if err := r.writeSnapshot(ctx, store); err != nil {
				t.Fatal(err)
			}
			stream, err := js.Stream(ctx, "OBJ_snap")
			if err != nil {
				t.Fatal(err)
			}
			info, err := stream.Info(ctx, jetstream.WithSubjectFilter(orphan))
			if err != nil {
				t.Fatal(err)
			}
			if left := info.State.Subjects[orphan]; (left == 0) != tc.purged {
				t.Errorf("%d orphaned chunks left, want them purged: %v", left, tc.purged)
			}
			data, err := store.GetBytes(ctx, snapshotObject)
			if err != nil {
				t.Fatalf("snapshot after the purge: %v", err)
			}
			if _, _, err := DecodeSnapshot(data); err != nil {
				t.Errorf("snapshot after the purge: %v", err)
			}
		})
	}
}

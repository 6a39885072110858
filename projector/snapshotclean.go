package projector

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// orphanChunkAge is the age that the newest chunk of a chunk set must reach
// before purgeOrphanedChunks removes the set. It is far longer than any
// snapshot write, so that a write in progress on another replica, which
// shares the bucket, keeps its chunks.
var orphanChunkAge = 10 * time.Minute

// purgeOrphanedChunks removes the chunks that snapshot writes left behind
// when a crash interrupted them. The object store keeps the chunks of an
// object on the subject $O.<bucket>.C.<nuid> of the stream OBJ_<bucket> and
// names the NUID of the current ones in the object's metadata, so a chunk
// subject with another NUID belongs to no object. Failures are logged and
// leave the chunks for the next write.
func (r *Runner) purgeOrphanedChunks(ctx context.Context, store jetstream.ObjectStore) {
	info, err := store.GetInfo(ctx, snapshotObject)
	if err != nil {
		return
	}
	stream, err := r.cfg.JS.Stream(ctx, "OBJ_"+r.cfg.SnapshotBucket)
	if err != nil {
		r.log.Warn("orphaned snapshot chunks not checked", "bucket", r.cfg.SnapshotBucket, "error", err)
		return
	}
	prefix := "$O." + r.cfg.SnapshotBucket + ".C."
	sinfo, err := stream.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		r.log.Warn("orphaned snapshot chunks not checked", "bucket", r.cfg.SnapshotBucket, "error", err)
		return
	}

	purged := 0
	for subject := range sinfo.State.Subjects {
		if subject == prefix+info.NUID {
			continue
		}
		last, err := stream.GetLastMsgForSubject(ctx, subject)
		if err != nil || time.Since(last.Time) < orphanChunkAge {
			continue
		}
		if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
			r.log.Warn("orphaned snapshot chunks not removed", "subject", subject, "error", err)
			continue
		}
		purged++
	}
	if purged > 0 {
		r.log.Info("orphaned snapshot chunks removed", "bucket", r.cfg.SnapshotBucket, "chunk_sets", purged)
	}
}

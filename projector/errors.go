package projector

import "errors"

// Sentinel errors of the projector.
var (
	// ErrSnapshotInvalid reports a snapshot that could not be read or decoded;
	// the Runner skips it and replays the stream instead.
	ErrSnapshotInvalid = errors.New("projector: invalid snapshot")
	// ErrNotReady reports a Runner that has not caught up with the stream.
	ErrNotReady = errors.New("projector: not caught up with the stream")
)

package ops

import "errors"

// Sentinel errors of the ops package, returned wrapped with the value that
// failed and what to do about it.
var (
	// ErrInvalidConfig reports a flag, environment variable or config field
	// with a value of the wrong form.
	ErrInvalidConfig = errors.New("ops: invalid configuration")
	// ErrListen reports an address that a server could not listen on,
	// usually because another process uses it.
	ErrListen = errors.New("ops: listen failed")
	// ErrEmbeddedStart reports an embedded nats-server that did not become
	// ready for connections with JetStream enabled.
	ErrEmbeddedStart = errors.New("ops: embedded nats-server failed to start")
	// ErrConnect reports a NATS connection that could not be established.
	ErrConnect = errors.New("ops: NATS connection failed")
	// ErrShutdownTimeout reports a shutdown that did not finish before its
	// context ended. The shutdown goes on in the background.
	ErrShutdownTimeout = errors.New("ops: shutdown timed out")
)

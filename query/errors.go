package query

import "errors"

// Sentinel errors of the query service, returned by Client and mapped to
// service error codes on the wire.
var (
	// ErrNotFound reports an unknown, empty or malformed client id, or the id
	// of a client of another account: all look the same to the caller.
	ErrNotFound = errors.New("query: client not found")
	// ErrBadRequest reports a request that cannot be parsed or lacks a field.
	ErrBadRequest = errors.New("query: bad request")
	// ErrUnavailable reports that the event store did not acknowledge in time
	// or cannot be reached; nothing is known to be stored.
	ErrUnavailable = errors.New("query: event store unavailable")
	// ErrTimeout reports that the query service did not reply in time.
	ErrTimeout = errors.New("query: request timed out")
)

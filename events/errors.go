package events

import "errors"

// Sentinel errors returned, wrapped with details, by Decode and Validate.
var (
	// ErrMalformed reports input that is not a JSON event object.
	ErrMalformed = errors.New("events: malformed event")
	// ErrInvalid reports an event whose fields break the rules of its type.
	ErrInvalid = errors.New("events: invalid event")
	// ErrUnknownType reports an event type this version does not know.
	ErrUnknownType = errors.New("events: unknown event type")
	// ErrNewerVersion reports a schema version newer than this code reads.
	ErrNewerVersion = errors.New("events: newer schema version")
	// ErrPublish reports an event that JetStream did not acknowledge.
	ErrPublish = errors.New("events: publish failed")
)

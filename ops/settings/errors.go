package settings

import "errors"

// Sentinel errors, returned wrapped with the value that failed.
var (
	// ErrUnknown reports a setting name that this version does not know.
	ErrUnknown = errors.New("settings: unknown setting")
	// ErrInvalidValue reports a value that the setting does not accept.
	ErrInvalidValue = errors.New("settings: invalid value")
	// ErrNoBucket reports a missing settings bucket, which serve creates.
	ErrNoBucket = errors.New("settings: bucket not found")
)

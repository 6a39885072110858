package ingest

import "errors"

// Sentinel errors, returned wrapped with the value that failed.
var (
	// ErrTokenFile reports a token file that cannot be read or holds no
	// usable token.
	ErrTokenFile = errors.New("ingest: invalid token file")
	// ErrInvalidConfig reports a Config without a required field.
	ErrInvalidConfig = errors.New("ingest: invalid configuration")
)

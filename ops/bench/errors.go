package bench

import "errors"

// ErrInvalidConfig reports a Config with a value out of range.
var ErrInvalidConfig = errors.New("bench: invalid configuration")

package simulate

import "errors"

// ErrInvalidConfig reports a Config field outside its allowed range. The
// wrapping error names the field and its value.
var ErrInvalidConfig = errors.New("simulate: invalid config")

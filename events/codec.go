package events

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// MaxEventSize is the maximum size in bytes of one encoded event.
const MaxEventSize = 64 << 10

// Decode parses one event in the wire form and validates it. Errors wrap
// ErrMalformed for input that is not an event object, and otherwise the
// errors of Validate. The returned event is non-nil whenever the JSON parsed,
// so that callers can report its id and type alongside a validation error.
func Decode(data []byte) (*Event, error) {
	if len(data) > MaxEventSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds the limit of %d bytes", ErrMalformed, len(data), MaxEventSize)
	}
	e := new(Event)
	if err := json.Unmarshal(data, e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := Validate(e); err != nil {
		return e, err
	}
	return e, nil
}

// Encode returns the wire form of e. It does not validate e.
func Encode(e *Event) ([]byte, error) {
	return json.Marshal(e)
}

var (
	idMu      sync.Mutex
	idEntropy = ulid.Monotonic(rand.Reader, 0)
)

// NewID returns a new ULID for an event or request id. It is safe for
// concurrent use.
func NewID() string {
	idMu.Lock()
	defer idMu.Unlock()
	return ulid.MustNew(ulid.Timestamp(time.Now()), idEntropy).String()
}

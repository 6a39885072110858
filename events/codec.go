package events

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
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
// The strings of an event in the usual wire form share one allocation, so
// a caller that keeps one string of many events should keep a copy of it.
func Decode(data []byte) (*Event, error) {
	if len(data) > MaxEventSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds the limit of %d bytes", ErrMalformed, len(data), MaxEventSize)
	}
	e := new(Event)
	if !decodeFast(data, e) {
		*e = Event{}
		if err := json.Unmarshal(data, e); err != nil {
			return nil, fmt.Errorf("%w: %s", ErrMalformed, shortError(err))
		}
	}
	if err := Validate(e); err != nil {
		return e, err
	}
	return e, nil
}

// maxErrorText is the length at which shortError cuts a message. Errors of
// encoding/json quote the offending value, which may be most of an event.
const maxErrorText = 256

func shortError(err error) string {
	msg := err.Error()
	if len(msg) <= maxErrorText {
		return msg
	}
	return strings.ToValidUTF8(msg[:maxErrorText], "") + "…"
}

// Encode returns the wire form of e. It does not validate e.
func Encode(e *Event) ([]byte, error) {
	if data, ok := encodeFast(e); ok {
		return data, nil
	}
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

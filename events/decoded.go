package events

import (
	"encoding/json"
	"fmt"
	"unsafe"
)

// Decoded contains one event and the objects nested in it, so that Decode
// can fill it again and again without allocating. A reader of a stream
// keeps a few of them and reuses each once it is done with its event.
type Decoded struct {
	Event Event

	client  Client
	session Session
	grant   Grant
	fast    Fast
}

// Decode parses data into d.Event and validates it, with the errors of the
// package-level Decode. On failure d.Event holds what parsed, which may be
// nothing.
//
// For an event in the usual wire form, Decode does not allocate: the
// strings of d.Event point into data, and its nested objects are d's own.
// So data must not change while d.Event is in use, and a caller that keeps
// a string of the event past the next Decode of d, or past the life of
// data, must keep a copy of it. Input in other forms is decoded by
// encoding/json, with allocations, into the same fields.
func (d *Decoded) Decode(data []byte) error {
	d.Event = Event{}
	if len(data) > MaxEventSize {
		return fmt.Errorf("%w: %d bytes exceeds the limit of %d bytes", ErrMalformed, len(data), MaxEventSize)
	}
	if !decodeFastShared(data, d) {
		d.Event = Event{}
		if err := json.Unmarshal(data, &d.Event); err != nil {
			return fmt.Errorf("%w: %s", ErrMalformed, shortError(err))
		}
	}
	return Validate(&d.Event)
}

// shareString returns b as a string without copying it. The caller must
// not change b afterwards.
func shareString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// The nested objects of the event being decoded: those of d.parts, reset,
// or new ones.

func (d *decoder) client() *Client {
	if d.parts == nil {
		return new(Client)
	}
	d.parts.client = Client{}
	return &d.parts.client
}

func (d *decoder) session() *Session {
	if d.parts == nil {
		return new(Session)
	}
	d.parts.session = Session{}
	return &d.parts.session
}

func (d *decoder) grant() *Grant {
	if d.parts == nil {
		return new(Grant)
	}
	d.parts.grant = Grant{}
	return &d.parts.grant
}

func (d *decoder) fast() *Fast {
	if d.parts == nil {
		return new(Fast)
	}
	d.parts.fast = Fast{}
	return &d.parts.fast
}

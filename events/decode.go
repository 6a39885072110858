package events

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeFast parses data into e when data is an event object in the form
// that Encode writes and that most publishers send. That form has known
// keys in any order, each at most once, string values with at most the
// escapes that encoding/json writes, an integer "v", and times that
// time.Time parses. decodeFast returns false for anything else, such as
// unknown or repeated keys, null, surrogate escapes or invalid UTF-8, and
// leaves e partly filled. The caller then decodes with encoding/json, which
// stays the reference for every input: on the input that decodeFast
// accepts, it gives the same Event.
//
// The string fields of the event share one allocation, so a caller that
// keeps one of them keeps all of the event's text alive.
func decodeFast(data []byte, e *Event) bool {
	d := decoder{data: data, event: e}
	// No string of the event is longer than its JSON text.
	d.text.Grow(len(data))
	return d.run()
}

// decodeFastShared is decodeFast for Decoded.Decode: the strings without
// escapes point into data, and the nested objects are those of parts.
func decodeFastShared(data []byte, parts *Decoded) bool {
	d := decoder{data: data, event: &parts.Event, parts: parts}
	return d.run()
}

func (d *decoder) run() bool {
	ok := d.object(objectEvent)
	d.space()
	if !ok || d.pos != len(d.data) {
		return false
	}
	d.setStrings()
	return true
}

// decoder reads JSON values from data, from pos on.
type decoder struct {
	data  []byte
	pos   int
	event *Event
	// parts, when set, holds the nested objects of event, and strings
	// without escapes point into data instead of being copied.
	parts *Decoded
	// seen has one bit per key of the object being read, to reject repeats.
	seen uint32

	// text collects the bytes of the string values read so far, and slots
	// lists the fields they belong to. setStrings sets the fields.
	text   strings.Builder
	slots  [32]textSlot
	nslots int
}

// textSlot is a string field and its bytes in decoder.text.
type textSlot struct {
	field      *string
	start, end int
}

// setStrings converts the collected text to one string and sets every
// field to its part of it.
func (d *decoder) setStrings() {
	all := d.text.String()
	for _, s := range d.slots[:d.nslots] {
		*s.field = all[s.start:s.end]
	}
}

// keep records that the text from start to the end of d.text is the value
// of field.
func (d *decoder) keep(field *string, start int) bool {
	if start == d.text.Len() {
		*field = ""
		return true
	}
	if d.nslots == len(d.slots) {
		return false
	}
	d.slots[d.nslots] = textSlot{field: field, start: start, end: d.text.Len()}
	d.nslots++
	return true
}

// Bits of the keys of an event object in decoder.seen.
const (
	keyID = 1 << iota
	keyType
	keyV
	keyTime
	keyNode
	keyUser
	keyClient
	keySession
	keyGrant
	keyFast
	keyMechanism
	keyReason
	keyBoot
	keyTarget
	keyActor
	keyRequest
	keyIP
	keyUserKey
)

func (d *decoder) eventField(key []byte, e *Event) bool {
	switch string(key) {
	case "id":
		return d.mark(keyID) && d.str(&e.ID)
	case "type":
		return d.mark(keyType) && d.eventType(&e.Type)
	case "v":
		return d.mark(keyV) && d.integer(&e.V)
	case "time":
		return d.mark(keyTime) && d.time(&e.Time)
	case "node":
		return d.mark(keyNode) && d.str(&e.Node)
	case "user":
		return d.mark(keyUser) && d.str(&e.User)
	case "client":
		e.Client = d.client()
		return d.mark(keyClient) && d.nested(objectClient)
	case "session":
		e.Session = d.session()
		return d.mark(keySession) && d.nested(objectSession)
	case "grant":
		e.Grant = d.grant()
		return d.mark(keyGrant) && d.nested(objectGrant)
	case "fast":
		e.Fast = d.fast()
		return d.mark(keyFast) && d.nested(objectFast)
	case "mechanism":
		return d.mark(keyMechanism) && d.str(&e.Mechanism)
	case "reason":
		return d.mark(keyReason) && d.str(&e.Reason)
	case "boot":
		return d.mark(keyBoot) && d.str(&e.Boot)
	case "target":
		return d.mark(keyTarget) && d.str(&e.Target)
	case "actor":
		return d.mark(keyActor) && d.str(&e.Actor)
	case "request":
		return d.mark(keyRequest) && d.str(&e.Request)
	case "ip":
		return d.mark(keyIP) && d.str(&e.IP)
	case "user_key":
		return d.mark(keyUserKey) && d.str(&e.UserKey)
	}
	return false
}

func (d *decoder) clientField(key []byte, c *Client) bool {
	switch string(key) {
	case "id":
		return d.mark(1) && d.str(&c.ID)
	case "software":
		return d.mark(2) && d.str(&c.Software)
	case "version":
		return d.mark(4) && d.str(&c.Version)
	case "uri":
		return d.mark(8) && d.str(&c.URI)
	case "device":
		return d.mark(16) && d.str(&c.Device)
	}
	return false
}

func (d *decoder) sessionField(key []byte, s *Session) bool {
	switch string(key) {
	case "id":
		return d.mark(1) && d.str(&s.ID)
	case "resource":
		return d.mark(2) && d.str(&s.Resource)
	}
	return false
}

func (d *decoder) grantField(key []byte, g *Grant) bool {
	switch string(key) {
	case "id":
		return d.mark(1) && d.str(&g.ID)
	case "name":
		return d.mark(2) && d.str(&g.Name)
	case "uri":
		return d.mark(4) && d.str(&g.URI)
	case "software_id":
		return d.mark(8) && d.str(&g.SoftwareID)
	case "software_version":
		return d.mark(16) && d.str(&g.SoftwareVersion)
	case "permission":
		return d.mark(32) && d.str(&g.Permission)
	case "expires":
		return d.mark(64) && d.time(&g.Expires)
	}
	return false
}

func (d *decoder) fastField(key []byte, f *Fast) bool {
	switch string(key) {
	case "fingerprint":
		return d.mark(1) && d.str(&f.Fingerprint)
	case "expires":
		return d.mark(2) && d.time(&f.Expires)
	}
	return false
}

// mark records key bit k of the current object and reports whether it was
// new.
func (d *decoder) mark(k uint32) bool {
	if d.seen&k != 0 {
		return false
	}
	d.seen |= k
	return true
}

// Kinds of objects in an event.
const (
	objectEvent = iota
	objectClient
	objectSession
	objectGrant
	objectFast
)

// field reads the value of key in an object of kind, with pos at the
// value, and reports whether it could.
func (d *decoder) field(kind int, key []byte) bool {
	e := d.event
	switch kind {
	case objectEvent:
		return d.eventField(key, e)
	case objectClient:
		return d.clientField(key, e.Client)
	case objectSession:
		return d.sessionField(key, e.Session)
	case objectGrant:
		return d.grantField(key, e.Grant)
	case objectFast:
		return d.fastField(key, e.Fast)
	}
	return false
}

// nested reads an object value with its own set of seen keys.
func (d *decoder) nested(kind int) bool {
	outer := d.seen
	d.seen = 0
	ok := d.object(kind)
	d.seen = outer
	return ok
}

// object reads an object of kind and its fields.
func (d *decoder) object(kind int) bool {
	d.space()
	if !d.consume('{') {
		return false
	}
	d.space()
	if d.consume('}') {
		return true
	}
	for {
		key, ok := d.key()
		if !ok {
			return false
		}
		d.space()
		if !d.consume(':') {
			return false
		}
		d.space()
		if !d.field(kind, key) {
			return false
		}
		d.space()
		if d.consume('}') {
			return true
		}
		if !d.consume(',') {
			return false
		}
		d.space()
	}
}

// key reads an object key that has no escapes or non-ASCII bytes, and
// returns it without the quotes.
func (d *decoder) key() ([]byte, bool) {
	if !d.consume('"') {
		return nil, false
	}
	start := d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return d.data[start : d.pos-1], true
		case c < 0x20 || c == '\\' || c >= utf8.RuneSelf:
			return nil, false
		}
		d.pos++
	}
	return nil, false
}

func (d *decoder) space() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) consume(c byte) bool {
	if d.pos < len(d.data) && d.data[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// str reads a string value into *s. It accepts the escapes of JSON except
// those of UTF-16 surrogates, and rejects invalid UTF-8, which
// encoding/json would replace.
func (d *decoder) str(s *string) bool {
	if !d.consume('"') {
		return false
	}
	start := d.pos
	ascii := true
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			raw := d.data[start:d.pos]
			d.pos++
			if !ascii && !utf8.Valid(raw) {
				return false
			}
			if d.parts != nil {
				*s = shareString(raw)
				return true
			}
			at := d.text.Len()
			d.text.Write(raw)
			return d.keep(s, at)
		case c == '\\':
			return d.escapedStr(start, s)
		case c < 0x20:
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.pos++
	}
	return false
}

// escapedStr continues str at the first backslash of a string that began
// at start.
func (d *decoder) escapedStr(start int, s *string) bool {
	at := d.text.Len()
	// Escapes never split a UTF-8 sequence, so checking the unescaped runs
	// of raw bytes checks the whole string.
	if !utf8.Valid(d.data[start:d.pos]) {
		return false
	}
	d.text.Write(d.data[start:d.pos])
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return d.keep(s, at)
		case c < 0x20:
			return false
		case c != '\\':
			run := d.pos
			for d.pos < len(d.data) && d.data[d.pos] != '\\' && d.data[d.pos] != '"' && d.data[d.pos] >= 0x20 {
				d.pos++
			}
			if !utf8.Valid(d.data[run:d.pos]) {
				return false
			}
			d.text.Write(d.data[run:d.pos])
			continue
		}
		if d.pos+1 >= len(d.data) {
			return false
		}
		esc := d.data[d.pos+1]
		d.pos += 2
		switch esc {
		case '"', '\\', '/':
			d.text.WriteByte(esc)
		case 'b':
			d.text.WriteByte('\b')
		case 'f':
			d.text.WriteByte('\f')
		case 'n':
			d.text.WriteByte('\n')
		case 'r':
			d.text.WriteByte('\r')
		case 't':
			d.text.WriteByte('\t')
		case 'u':
			r, ok := d.hex4()
			if !ok || utf16.IsSurrogate(r) {
				return false
			}
			d.text.WriteRune(r)
		default:
			return false
		}
	}
	return false
}

// hex4 reads the four hex digits of a \u escape.
func (d *decoder) hex4() (rune, bool) {
	if d.pos+4 > len(d.data) {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	d.pos += 4
	return r, true
}

// integer reads a JSON integer without fraction or exponent.
func (d *decoder) integer(v *int) bool {
	start := d.pos
	d.consume('-')
	digits := d.pos
	for d.pos < len(d.data) && '0' <= d.data[d.pos] && d.data[d.pos] <= '9' {
		d.pos++
	}
	n := d.pos - digits
	if n == 0 || n > 18 || (n > 1 && d.data[digits] == '0') {
		return false
	}
	if d.pos < len(d.data) {
		switch d.data[d.pos] {
		case '.', 'e', 'E':
			return false
		}
	}
	x, err := strconv.Atoi(string(d.data[start:d.pos]))
	if err != nil {
		return false
	}
	*v = x
	return true
}

// time reads a string value into *t the way encoding/json does: by
// passing the raw quoted bytes to time.Time.UnmarshalJSON.
func (d *decoder) time(t *time.Time) bool {
	start := d.pos
	if !d.consume('"') {
		return false
	}
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return t.UnmarshalJSON(d.data[start:d.pos]) == nil
		case c < 0x20 || c == '\\' || c >= utf8.RuneSelf:
			return false
		}
		d.pos++
	}
	return false
}

// eventType reads the type name into *t. A known name becomes its
// constant, so that it costs no allocation.
func (d *decoder) eventType(t *Type) bool {
	start := d.pos
	if key, ok := d.key(); ok {
		for _, known := range Types {
			if string(known) == string(key) {
				*t = known
				return true
			}
		}
	}
	d.pos = start
	at, slots := d.text.Len(), d.nslots
	var s string
	if !d.str(&s) {
		return false
	}
	// An unknown type gets its own copy at once, instead of a part of the
	// event's text, which setStrings sets only at the end.
	if d.nslots > slots {
		d.nslots = slots
		s = d.text.String()[at:]
	}
	*t = Type(strings.Clone(s))
	return true
}

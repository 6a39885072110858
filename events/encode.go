package events

import (
	"strconv"
	"time"
)

// encodeFast returns the wire form of e, byte for byte what encoding/json
// writes, when every string of e is printable ASCII that JSON does not
// escape: no quote, backslash, control character or non-ASCII byte, and
// none of the <, > and & that encoding/json escapes for HTML. It returns
// false for any other event, and for times that encoding/json rejects, so
// that Encode leaves those to encoding/json.
func encodeFast(e *Event) ([]byte, bool) {
	w := encoder{buf: make([]byte, 0, 384), ok: true}
	w.buf = append(w.buf, `{"id":`...)
	w.str(e.ID)
	w.buf = append(w.buf, `,"type":`...)
	w.str(string(e.Type))
	w.buf = append(w.buf, `,"v":`...)
	w.buf = strconv.AppendInt(w.buf, int64(e.V), 10)
	w.buf = append(w.buf, `,"time":`...)
	w.time(e.Time)
	w.buf = append(w.buf, `,"node":`...)
	w.str(e.Node)
	w.optional(`,"user":`, e.User)

	if c := e.Client; c != nil {
		w.buf = append(w.buf, `,"client":{`...)
		w.fields(`"id":`, c.ID, `"software":`, c.Software, `"version":`, c.Version, `"uri":`, c.URI, `"device":`, c.Device)
		w.buf = append(w.buf, '}')
	}
	if s := e.Session; s != nil {
		w.buf = append(w.buf, `,"session":{"id":`...)
		w.str(s.ID)
		w.optional(`,"resource":`, s.Resource)
		w.buf = append(w.buf, '}')
	}
	if g := e.Grant; g != nil {
		w.buf = append(w.buf, `,"grant":{"id":`...)
		w.str(g.ID)
		w.optional(`,"name":`, g.Name)
		w.optional(`,"uri":`, g.URI)
		w.optional(`,"software_id":`, g.SoftwareID)
		w.optional(`,"software_version":`, g.SoftwareVersion)
		w.optional(`,"permission":`, g.Permission)
		w.optionalTime(`,"expires":`, g.Expires)
		w.buf = append(w.buf, '}')
	}
	if f := e.Fast; f != nil {
		w.buf = append(w.buf, `,"fast":{"fingerprint":`...)
		w.str(f.Fingerprint)
		w.optionalTime(`,"expires":`, f.Expires)
		w.buf = append(w.buf, '}')
	}

	w.optional(`,"mechanism":`, e.Mechanism)
	w.optional(`,"reason":`, e.Reason)
	w.optional(`,"boot":`, e.Boot)
	w.optional(`,"target":`, e.Target)
	w.optional(`,"actor":`, e.Actor)
	w.optional(`,"request":`, e.Request)
	w.optional(`,"ip":`, e.IP)
	w.optional(`,"user_key":`, e.UserKey)
	w.buf = append(w.buf, '}')
	return w.buf, w.ok
}

// encoder appends JSON to buf. Its ok turns false at the first value that
// encodeFast leaves to encoding/json.
type encoder struct {
	buf []byte
	ok  bool
}

// str appends s quoted.
func (w *encoder) str(s string) {
	for i := range len(s) {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			w.ok = false
			return
		}
	}
	w.buf = append(w.buf, '"')
	w.buf = append(w.buf, s...)
	w.buf = append(w.buf, '"')
}

// optional appends key and s unless s is empty, as omitempty does.
func (w *encoder) optional(key, s string) {
	if s != "" {
		w.buf = append(w.buf, key...)
		w.str(s)
	}
}

// fields appends the non-empty values of pairs of key and value, separated
// by commas, as the fields of an object whose fields are all omitempty.
func (w *encoder) fields(pairs ...string) {
	first := true
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			continue
		}
		if !first {
			w.buf = append(w.buf, ',')
		}
		first = false
		w.buf = append(w.buf, pairs[i]...)
		w.str(pairs[i+1])
	}
}

// time appends t the way time.Time.MarshalJSON does.
func (w *encoder) time(t time.Time) {
	w.buf = append(w.buf, '"')
	b, err := t.AppendText(w.buf)
	if err != nil {
		w.ok = false
		return
	}
	w.buf = append(b, '"')
}

// optionalTime appends key and t unless t is zero, as omitzero does.
func (w *encoder) optionalTime(key string, t time.Time) {
	if !t.IsZero() {
		w.buf = append(w.buf, key...)
		w.time(t)
	}
}

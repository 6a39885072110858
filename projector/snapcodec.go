package projector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
	"unique"
)

// The snapshot body, before compression, is a binary encoding of a State:
//
//	magic, format, seq, created
//	account*   each: 1, user, clients, sessions, grants, fast tokens, extra
//	0, node count, nodes, account count
//
// Since format 3, the extra part of an account ends with the summaries of
// its dropped ended sessions and their keys (see retire.go), 8 bytes each,
// little-endian. Other integers are varints, strings a length and their
// bytes, and times stamps. A user agent or grant metadata is written in
// full where it first appears and later by its number, because few
// distinct ones exist. The
// account count at the end distinguishes a complete body from a torn one,
// and the checksums of the compressed stream catch other damage.
const (
	snapshotMagic  = "clientele snapshot\n"
	snapshotFormat = 3
)

// snapshotEncoder appends the encoding of a State to buf, in parts, so
// that a caller can write out and release buf between accounts.
type snapshotEncoder struct {
	buf      []byte
	agents   map[agentHandle]uint64
	metas    map[grantMetaHandle]uint64
	accounts uint64
}

func newSnapshotEncoder(seq uint64, created time.Time) *snapshotEncoder {
	enc := &snapshotEncoder{agents: make(map[agentHandle]uint64), metas: make(map[grantMetaHandle]uint64)}
	enc.buf = append(enc.buf, snapshotMagic...)
	enc.uint(snapshotFormat)
	enc.uint(seq)
	enc.int(int64(stampOf(created)))
	return enc
}

func (enc *snapshotEncoder) uint(x uint64) { enc.buf = binary.AppendUvarint(enc.buf, x) }
func (enc *snapshotEncoder) int(x int64)   { enc.buf = binary.AppendVarint(enc.buf, x) }
func (enc *snapshotEncoder) stamp(s stamp) { enc.int(int64(s)) }

func (enc *snapshotEncoder) str(s string) {
	enc.uint(uint64(len(s)))
	enc.buf = append(enc.buf, s...)
}

func (enc *snapshotEncoder) bool(b bool) {
	if b {
		enc.buf = append(enc.buf, 1)
	} else {
		enc.buf = append(enc.buf, 0)
	}
}

// index writes a record index, which may be noRecord.
func (enc *snapshotEncoder) index(i int32) { enc.uint(uint64(i + 1)) }

// agent writes 0 for no agent, the number of an agent written before, or
// the next number followed by the agent.
func (enc *snapshotEncoder) agent(h agentHandle) {
	if h == (agentHandle{}) {
		enc.uint(0)
		return
	}
	if n, ok := enc.agents[h]; ok {
		enc.uint(n)
		return
	}
	n := uint64(len(enc.agents) + 1)
	enc.agents[h] = n
	enc.uint(n)
	ua := h.Value()
	enc.str(ua.Software)
	enc.str(ua.Version)
	enc.str(ua.URI)
	enc.str(ua.Device)
}

// meta writes grant metadata like agent writes user agents.
func (enc *snapshotEncoder) meta(h grantMetaHandle) {
	if h == (grantMetaHandle{}) {
		enc.uint(0)
		return
	}
	if n, ok := enc.metas[h]; ok {
		enc.uint(n)
		return
	}
	n := uint64(len(enc.metas) + 1)
	enc.metas[h] = n
	enc.uint(n)
	m := h.Value()
	enc.str(m.Name)
	enc.str(m.URI)
	enc.str(m.SoftwareID)
	enc.str(m.SoftwareVersion)
	enc.str(m.Permission)
}

// account appends one account.
func (enc *snapshotEncoder) account(user string, a *Account) {
	enc.accounts++
	enc.buf = append(enc.buf, 1)
	enc.str(user)

	enc.uint(uint64(len(a.clients)))
	for _, c := range a.clients {
		enc.str(c.key)
		enc.stamp(c.firstSeen)
		enc.agent(c.agent)
		enc.stamp(c.agentAt)
	}

	enc.uint(uint64(len(a.Sessions)))
	for _, ss := range a.Sessions {
		enc.str(ss.Node)
		enc.str(ss.ID)
		enc.buf = append(enc.buf, byte(ss.State))
		enc.stamp(ss.stateAt)
		enc.stamp(ss.start)
		enc.stamp(ss.last)
		enc.stamp(ss.password)
		enc.agent(ss.agent)
		enc.stamp(ss.agentAt)
		enc.index(ss.client)
		enc.index(ss.grant)
	}

	enc.uint(uint64(len(a.grants)))
	for _, g := range a.grants {
		enc.str(g.id)
		enc.meta(g.meta)
		for _, s := range [...]stamp{g.metaAt, g.expires, g.expiresAt, g.issued, g.firstSeen, g.lastUsed} {
			enc.stamp(s)
		}
		enc.index(g.client)
		enc.bool(g.revoked)
		enc.bool(g.expired)
	}

	enc.uint(uint64(len(a.fast)))
	for _, f := range a.fast {
		enc.str(f.fingerprint)
		enc.stamp(f.minted)
		enc.stamp(f.expires)
		enc.stamp(f.firstSeen)
		enc.index(f.client)
		enc.bool(f.revoked)
	}
	enc.extra(a.extra)
}

func (enc *snapshotEncoder) extra(x *accountExtra) {
	if x == nil {
		x = &accountExtra{}
	}
	enc.uint(uint64(len(x.revoked)))
	for _, r := range x.revoked {
		enc.str(r.id)
		enc.stamp(r.at)
	}
	enc.stamp(x.passwordChanged)
	enc.stamp(x.deleted)

	enc.uint(uint64(len(x.retired)))
	for _, r := range x.retired {
		enc.index(r.client)
		enc.index(r.grant)
		enc.stamp(r.start)
		enc.stamp(r.last)
		enc.stamp(r.password)
		enc.agent(r.agent)
		enc.stamp(r.agentAt)
	}
	enc.uint(uint64(len(x.ended)))
	for _, k := range x.ended {
		enc.buf = binary.LittleEndian.AppendUint64(enc.buf, k)
	}
}

// finish appends the nodes of s and the trailer.
func (enc *snapshotEncoder) finish(nodes map[string]*Node) {
	enc.buf = append(enc.buf, 0)
	enc.uint(uint64(len(nodes)))
	for name, n := range nodes {
		enc.str(name)
		enc.str(n.Boot)
		enc.stamp(stampOf(n.Started))
		enc.stamp(stampOf(n.Stopped))
		enc.stamp(stampOf(n.LastSeen))
		enc.bool(n.Lifecycle)
	}
	enc.uint(enc.accounts)
}

// take returns the bytes appended so far and empties the buffer.
func (enc *snapshotEncoder) take() []byte {
	out := enc.buf
	enc.buf = nil
	return out
}

// snapshotDecoder reads a snapshot body. The first error sticks: every
// later read returns zero values, and err reports it.
type snapshotDecoder struct {
	// format is the format of the body, which decides the fields to read.
	format uint64
	data   []byte
	err    error
	agents []agentHandle
	metas  []grantMetaHandle
	nodes  map[string]string
}

var errSnapshotTruncated = errors.New("body ends early")

func (dec *snapshotDecoder) fail(err error) {
	if dec.err == nil {
		dec.err = err
	}
	dec.data = nil
}

func (dec *snapshotDecoder) uint() uint64 {
	x, n := binary.Uvarint(dec.data)
	if n <= 0 {
		dec.fail(errSnapshotTruncated)
		return 0
	}
	dec.data = dec.data[n:]
	return x
}

func (dec *snapshotDecoder) int() int64 {
	x, n := binary.Varint(dec.data)
	if n <= 0 {
		dec.fail(errSnapshotTruncated)
		return 0
	}
	dec.data = dec.data[n:]
	return x
}

func (dec *snapshotDecoder) stamp() stamp { return stamp(dec.int()) }

func (dec *snapshotDecoder) byte() byte {
	if len(dec.data) == 0 {
		dec.fail(errSnapshotTruncated)
		return 0
	}
	b := dec.data[0]
	dec.data = dec.data[1:]
	return b
}

func (dec *snapshotDecoder) bool() bool {
	switch b := dec.byte(); b {
	case 0:
		return false
	case 1:
		return true
	default:
		dec.fail(fmt.Errorf("flag byte %d", b))
		return false
	}
}

func (dec *snapshotDecoder) str() string {
	n := dec.uint()
	if n > uint64(len(dec.data)) {
		dec.fail(errSnapshotTruncated)
		return ""
	}
	s := string(dec.data[:n])
	dec.data = dec.data[n:]
	return s
}

// count reads the number of records that follow, which each take at least
// min bytes, so that a damaged count cannot make the decoder allocate more
// than the body could hold.
func (dec *snapshotDecoder) count(min int) int {
	n := dec.uint()
	if n > uint64(len(dec.data)/min) {
		dec.fail(fmt.Errorf("count %d exceeds the rest of the body", n))
		return 0
	}
	return int(n)
}

// index reads a record index below limit, or noRecord.
func (dec *snapshotDecoder) index(limit int) int32 {
	i := int64(dec.uint()) - 1
	if i < noRecord || i >= int64(limit) || i > math.MaxInt32 {
		dec.fail(fmt.Errorf("record index %d out of range 0 to %d", i, limit-1))
		return noRecord
	}
	return int32(i)
}

func (dec *snapshotDecoder) agent() agentHandle {
	n := dec.uint()
	switch {
	case n == 0:
		return agentHandle{}
	case n <= uint64(len(dec.agents)):
		return dec.agents[n-1]
	case n == uint64(len(dec.agents))+1:
		ua := UserAgent{Software: dec.str(), Version: dec.str(), URI: dec.str(), Device: dec.str()}
		h := internAgent(ua)
		dec.agents = append(dec.agents, h)
		return h
	}
	dec.fail(fmt.Errorf("user agent number %d out of order", n))
	return agentHandle{}
}

func (dec *snapshotDecoder) meta() grantMetaHandle {
	n := dec.uint()
	switch {
	case n == 0:
		return grantMetaHandle{}
	case n <= uint64(len(dec.metas)):
		return dec.metas[n-1]
	case n == uint64(len(dec.metas))+1:
		m := grantMeta{Name: dec.str(), URI: dec.str(), SoftwareID: dec.str(), SoftwareVersion: dec.str(), Permission: dec.str()}
		h := unique.Make(m)
		dec.metas = append(dec.metas, h)
		return h
	}
	dec.fail(fmt.Errorf("grant metadata number %d out of order", n))
	return grantMetaHandle{}
}

// decodeSnapshotBody parses a snapshot body into a new State.
func decodeSnapshotBody(data []byte) (*State, uint64, error) {
	if len(data) < len(snapshotMagic) || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return nil, 0, errors.New("not a clientele snapshot of format 2 or later")
	}
	dec := &snapshotDecoder{data: data[len(snapshotMagic):], nodes: make(map[string]string)}
	dec.format = dec.uint()
	if (dec.format < 2 || dec.format > snapshotFormat) && dec.err == nil {
		return nil, 0, fmt.Errorf("unsupported format %d: this version reads formats 2 to %d", dec.format, snapshotFormat)
	}
	seq := dec.uint()
	dec.int() // The creation time is for people reading the body.

	s := NewState()
	var accounts uint64
	for dec.err == nil {
		if marker := dec.byte(); marker != 1 {
			if marker != 0 {
				dec.fail(fmt.Errorf("account marker %d", marker))
			}
			break
		}
		user := dec.str()
		a := dec.account()
		if _, dup := s.Users[user]; dup && dec.err == nil {
			dec.fail(fmt.Errorf("account %q appears twice", user))
		}
		s.Users[user] = a
		accounts++
	}

	for range dec.count(6) {
		name := dec.str()
		n := &Node{Boot: dec.str(), Started: dec.stamp().time(), Stopped: dec.stamp().time(), LastSeen: dec.stamp().time(), Lifecycle: dec.bool()}
		s.Nodes[name] = n
	}
	if n := dec.uint(); n != accounts && dec.err == nil {
		dec.fail(fmt.Errorf("trailer counts %d accounts, body has %d", n, accounts))
	}
	if dec.err == nil && len(dec.data) != 0 {
		dec.fail(fmt.Errorf("%d bytes after the trailer", len(dec.data)))
	}
	if dec.err != nil {
		return nil, 0, dec.err
	}

	for name := range s.Nodes {
		s.nodeNames[name] = name
	}
	for _, name := range dec.nodes {
		s.nodeNames[name] = name
	}
	return s, seq, nil
}

func (dec *snapshotDecoder) account() *Account {
	a := &Account{}
	if n := dec.count(4); n > 0 {
		a.clients = make([]clientRecord, n)
		for i := range a.clients {
			c := &a.clients[i]
			c.key, c.firstSeen, c.agent, c.agentAt = dec.str(), dec.stamp(), dec.agent(), dec.stamp()
		}
	}
	if n := dec.count(12); n > 0 {
		a.Sessions = make([]Session, n)
		for i := range a.Sessions {
			dec.session(&a.Sessions[i], len(a.clients))
		}
	}
	if n := dec.count(12); n > 0 {
		a.grants = make([]grantRecord, n)
		for i := range a.grants {
			dec.grant(&a.grants[i], len(a.clients))
		}
	}
	if n := dec.count(7); n > 0 {
		a.fast = make([]fastRecord, n)
		for i := range a.fast {
			f := &a.fast[i]
			f.fingerprint, f.minted, f.expires, f.firstSeen = dec.str(), dec.stamp(), dec.stamp(), dec.stamp()
			f.client, f.revoked = dec.index(len(a.clients)), dec.bool()
		}
	}
	for i := range a.Sessions {
		if g := a.Sessions[i].grant; g >= int32(len(a.grants)) {
			dec.fail(fmt.Errorf("session grant index %d out of range", g))
		}
	}
	dec.extra(a)
	if max(len(a.Sessions), len(a.clients), len(a.grants), len(a.fast)) > indexThreshold {
		a.buildIndex()
	}
	return a
}

func (dec *snapshotDecoder) session(ss *Session, clients int) {
	node := dec.str()
	if name, ok := dec.nodes[node]; ok {
		node = name
	} else {
		dec.nodes[node] = node
	}
	ss.Node, ss.ID = node, dec.str()
	ss.idHash = sessionHash(ss.ID)
	ss.State = SessionState(dec.byte())
	if ss.State < StateAuthenticated || ss.State > StateEnded {
		dec.fail(fmt.Errorf("session state %d", ss.State))
	}
	ss.stateAt, ss.start, ss.last, ss.password = dec.stamp(), dec.stamp(), dec.stamp(), dec.stamp()
	ss.agent, ss.agentAt = dec.agent(), dec.stamp()
	ss.client = dec.index(clients)
	// The grant index is checked once the account's grants are read.
	ss.grant = dec.index(math.MaxInt32)
}

func (dec *snapshotDecoder) grant(g *grantRecord, clients int) {
	g.id, g.meta = dec.str(), dec.meta()
	for _, s := range [...]*stamp{&g.metaAt, &g.expires, &g.expiresAt, &g.issued, &g.firstSeen, &g.lastUsed} {
		*s = dec.stamp()
	}
	g.client, g.revoked, g.expired = dec.index(clients), dec.bool(), dec.bool()
}

func (dec *snapshotDecoder) extra(a *Account) {
	x := &accountExtra{}
	if n := dec.count(2); n > 0 {
		x.revoked = make([]revocation, n)
		for i := range x.revoked {
			x.revoked[i] = revocation{id: dec.str(), at: dec.stamp()}
		}
	}
	x.passwordChanged, x.deleted = dec.stamp(), dec.stamp()
	if dec.format >= 3 {
		dec.retired(a, x)
	}
	if len(x.revoked) > 0 || x.passwordChanged != 0 || x.deleted != 0 || len(x.retired) > 0 || len(x.ended) > 0 {
		a.extra = x
	}
}

// retired reads the summaries and keys of the dropped sessions of a, which
// format 3 added.
func (dec *snapshotDecoder) retired(a *Account, x *accountExtra) {
	if n := dec.count(7); n > 0 {
		x.retired = make([]retiredSessions, n)
		for i := range x.retired {
			r := &x.retired[i]
			r.client, r.grant = dec.index(len(a.clients)), dec.index(len(a.grants))
			if (r.client == noRecord) == (r.grant == noRecord) && dec.err == nil {
				dec.fail(fmt.Errorf("invalid summary of ended sessions: client %d and grant %d, expected exactly one of them", r.client, r.grant))
			}
			r.start, r.last, r.password = dec.stamp(), dec.stamp(), dec.stamp()
			r.agent, r.agentAt = dec.agent(), dec.stamp()
		}
	}
	if n := dec.count(8); n > 0 {
		x.ended = make([]uint64, n)
		for i := range x.ended {
			if len(dec.data) < 8 {
				dec.fail(errSnapshotTruncated)
				return
			}
			x.ended[i] = binary.LittleEndian.Uint64(dec.data)
			dec.data = dec.data[8:]
		}
		if !slices.IsSorted(x.ended) && dec.err == nil {
			dec.fail(errors.New("invalid keys of ended sessions: not in ascending order"))
		}
	}
}

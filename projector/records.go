package projector

import "hash/maphash"

// indexThreshold is the number of records of one kind above which an
// account keeps maps to find its records, instead of scanning them. Most
// accounts have a handful of each and never need the maps.
const indexThreshold = 12

// accountIndex finds the records of a large account by key. Each map
// holds the index of every record of its kind.
type accountIndex struct {
	sessions map[sessionRef]int32
	clients  map[string]int32
	grants   map[string]int32
	fast     map[string]int32
}

type sessionRef struct{ node, id string }

func (a *Account) index() *accountIndex {
	if a.extra == nil {
		return nil
	}
	return a.extra.index
}

// rare returns the extra part of a, creating it.
func (a *Account) rare() *accountExtra {
	if a.extra == nil {
		a.extra = &accountExtra{}
	}
	return a.extra
}

func (a *Account) findSession(node, id string) int {
	if ix := a.index(); ix != nil {
		if i, ok := ix.sessions[sessionRef{node, id}]; ok {
			return int(i)
		}
		return noRecord
	}
	h := sessionHash(id)
	for i := range a.Sessions {
		ss := &a.Sessions[i]
		if (ss.idHash == h || ss.idHash == 0) && ss.ID == id && ss.Node == node {
			return i
		}
	}
	return noRecord
}

// sessionSeed seeds the session hashes of this process, which are never
// stored.
var sessionSeed = maphash.MakeSeed()

// sessionHash returns the hash of session id that Session.idHash keeps. It
// is never 0, which marks an unset hash.
func sessionHash(id string) uint32 {
	return uint32(maphash.String(sessionSeed, id)) | 1
}

// findClient returns the index of the client record with packed key k.
func (a *Account) findClient(k []byte) int {
	if ix := a.index(); ix != nil {
		if i, ok := ix.clients[string(k)]; ok {
			return int(i)
		}
		return noRecord
	}
	for i := range a.clients {
		if a.clients[i].key == string(k) {
			return i
		}
	}
	return noRecord
}

func (a *Account) findGrant(id string) int {
	if ix := a.index(); ix != nil {
		if i, ok := ix.grants[id]; ok {
			return int(i)
		}
		return noRecord
	}
	for i := range a.grants {
		if a.grants[i].id == id {
			return i
		}
	}
	return noRecord
}

// findFast returns the index of the token with packed fingerprint fp.
func (a *Account) findFast(fp []byte) int {
	if ix := a.index(); ix != nil {
		if i, ok := ix.fast[string(fp)]; ok {
			return int(i)
		}
		return noRecord
	}
	for i := range a.fast {
		if a.fast[i].fingerprint == string(fp) {
			return i
		}
	}
	return noRecord
}

// addSession appends ss and returns its index.
func (a *Account) addSession(ss Session) int {
	ss.idHash = sessionHash(ss.ID)
	a.Sessions = append(a.Sessions, ss)
	i := len(a.Sessions) - 1
	if ix := a.index(); ix != nil {
		ix.sessions[sessionRef{ss.Node, ss.ID}] = int32(i)
	} else if i >= indexThreshold {
		a.buildIndex()
	}
	return i
}

// clientIndex returns the index of the client record with packed key k,
// creating an empty record.
func (a *Account) clientIndex(k []byte) int {
	if i := a.findClient(k); i != noRecord {
		return i
	}
	a.clients = append(a.clients, clientRecord{key: string(k)})
	i := len(a.clients) - 1
	if ix := a.index(); ix != nil {
		ix.clients[a.clients[i].key] = int32(i)
	} else if i >= indexThreshold {
		a.buildIndex()
	}
	return i
}

func (a *Account) addGrant(g grantRecord) int {
	a.grants = append(a.grants, g)
	i := len(a.grants) - 1
	if ix := a.index(); ix != nil {
		ix.grants[g.id] = int32(i)
	} else if i >= indexThreshold {
		a.buildIndex()
	}
	return i
}

func (a *Account) addFast(f fastRecord) int {
	a.fast = append(a.fast, f)
	i := len(a.fast) - 1
	if ix := a.index(); ix != nil {
		ix.fast[f.fingerprint] = int32(i)
	} else if i >= indexThreshold {
		a.buildIndex()
	}
	return i
}

// buildIndex creates the maps of every kind of record of a.
func (a *Account) buildIndex() {
	ix := &accountIndex{
		sessions: make(map[sessionRef]int32, len(a.Sessions)),
		clients:  make(map[string]int32, len(a.clients)),
		grants:   make(map[string]int32, len(a.grants)),
		fast:     make(map[string]int32, len(a.fast)),
	}
	for i, ss := range a.Sessions {
		ix.sessions[sessionRef{ss.Node, ss.ID}] = int32(i)
	}
	for i, c := range a.clients {
		ix.clients[c.key] = int32(i)
	}
	for i, g := range a.grants {
		ix.grants[g.id] = int32(i)
	}
	for i, f := range a.fast {
		ix.fast[f.fingerprint] = int32(i)
	}
	a.rare().index = ix
}

// revokedAt returns the time of the newest client.revoked event that named
// listing id, or 0.
func (a *Account) revokedAt(id string) stamp {
	if a.extra == nil {
		return 0
	}
	for _, r := range a.extra.revoked {
		if r.id == id {
			return r.at
		}
	}
	return 0
}

func (a *Account) passwordChanged() stamp {
	if a.extra == nil {
		return 0
	}
	return a.extra.passwordChanged
}

func (a *Account) deleted() stamp {
	if a.extra == nil {
		return 0
	}
	return a.extra.deleted
}

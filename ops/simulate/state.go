package simulate

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// simNode is a simulated XMPP node and the live sessions of its current boot.
type simNode struct {
	name     string
	boot     string
	sessions map[string]*simSession
}

// simUser is a simulated account with its client devices and the grants of
// its access-only OAuth apps.
type simUser struct {
	jid     string
	clients []*simClient
	access  []*simGrant
}

// simClient is one installation of a client program on one device.
type simClient struct {
	user    *simUser
	sw      *software
	id      string // SASL2 client id, empty for legacy clients
	version string
	device  string
	// resource is the fixed resource of a legacy client.
	resource string
	session  *simSession
	fast     *simFast
	grant    *simGrant
	// retired clients had something revoked and never log in again.
	retired bool
}

type simSession struct {
	id         string
	resource   string
	node       *simNode
	client     *simClient
	hibernated bool
}

type simGrant struct {
	id       string
	app      *oauthApp
	clientID string
	expires  time.Time
	// node is the node that issued the grant and revokes it on command.
	node string
}

type simFast struct {
	fingerprint string
	expires     time.Time
	// node is the node that minted the token and revokes it on command.
	node string
}

// SessionInfo describes a live simulated session.
type SessionInfo struct {
	Node       string
	ID         string
	User       string
	ClientID   string
	Resource   string
	Hibernated bool
	// Grant is the id of the grant that the session's client logs in with,
	// or "" when it uses none.
	Grant string
	// Fast is the fingerprint of the client's FAST token, or "" when it has
	// none.
	Fast string
}

// GrantInfo describes a live simulated OAuth grant.
type GrantInfo struct {
	User string
	ID   string
	// Node is the node that issued the grant.
	Node string
	// ClientID is the SASL2 client id of a client that logs in with the
	// grant, or "" for a grant used only over HTTP.
	ClientID string
	Expires  time.Time
}

// Sessions returns the live sessions of every node, sorted by node and
// session id.
func (g *Generator) Sessions() []SessionInfo {
	var out []SessionInfo
	for _, n := range g.nodes {
		for _, s := range n.sessions {
			out = append(out, sessionInfo(s))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Node != out[j].Node {
			return out[i].Node < out[j].Node
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func sessionInfo(s *simSession) SessionInfo {
	info := SessionInfo{
		Node: s.node.name, ID: s.id, User: s.client.user.jid, ClientID: s.client.id,
		Resource: s.resource, Hibernated: s.hibernated,
	}
	if s.client.grant != nil {
		info.Grant = s.client.grant.id
	}
	if s.client.fast != nil {
		info.Fast = s.client.fast.fingerprint
	}
	return info
}

// Grants returns the live grants of every account in account order.
func (g *Generator) Grants() []GrantInfo {
	var out []GrantInfo
	for _, u := range g.users {
		for _, c := range u.clients {
			if c.grant != nil {
				out = append(out, grantInfo(u.jid, c.grant))
			}
		}
		for _, gr := range u.access {
			out = append(out, grantInfo(u.jid, gr))
		}
	}
	return out
}

func grantInfo(user string, gr *simGrant) GrantInfo {
	return GrantInfo{User: user, ID: gr.id, Node: gr.node, ClientID: gr.clientID, Expires: gr.expires}
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// randomBytes returns n bytes of the seeded ChaCha8 stream.
func (g *Generator) randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = g.entropy.Read(b) // ChaCha8.Read always fills b and returns a nil error.
	return b
}

// newToken returns prefix followed by n seeded random bytes in lowercase
// base32, for session, grant and resource ids.
func (g *Generator) newToken(prefix string, n int) string {
	return prefix + strings.ToLower(idEncoding.EncodeToString(g.randomBytes(n)))
}

// newEventID returns a ULID of t with seeded entropy.
func (g *Generator) newEventID(t time.Time) string {
	return ulid.MustNew(ulid.Timestamp(t), g.entropy).String()
}

// newClientID returns a random (version 4) UUID built from seeded bytes, the
// usual form of a SASL2 client id.
func (g *Generator) newClientID() string {
	b := g.randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newFingerprint returns the SHA-256 fingerprint of a token made of seeded
// random bytes. The token itself is discarded.
func (g *Generator) newFingerprint() string {
	sum := sha256.Sum256(g.randomBytes(32))
	return "sha256:" + hex.EncodeToString(sum[:])
}

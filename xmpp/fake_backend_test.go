package xmpp

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

// Accounts and clients of fakeBackend.
const (
	alice = "alice@example.test"
	bob   = "bob@example.test"

	aliceGajim   = "client/alice-gajim"
	aliceREST    = "grant/alice-rest"
	aliceConv    = "client/alice-conversations"
	aliceConvOld = "client/alice-conversations-old"
	bobDino      = "client/bob-dino"
)

var (
	firstSeen = time.Date(2026, 3, 27, 15, 16, 9, 500_000_000, time.UTC)
	lastSeen  = time.Date(2026, 4, 6, 16, 37, 25, 0, time.FixedZone("CEST", 2*60*60))
)

// fakeClients returns the clients of alice and bob. Alice's Gajim has
// password access, and her two Conversations clients share the software
// name but not the version.
func fakeClients() map[string][]projector.ClientView {
	return map[string][]projector.ClientView{
		alice: {
			{
				ID: aliceGajim, Type: projector.TypeSession, Connected: true,
				FirstSeen: firstSeen, LastSeen: lastSeen,
				Auth: []string{projector.AuthPassword, projector.AuthFast},
				UserAgent: projector.UserAgent{
					Software: "Gajim", Version: "1.9.5", URI: "https://gajim.org/", Device: "Juliet's laptop",
				},
			},
			{
				ID: aliceREST, Type: projector.TypeAccess,
				FirstSeen: firstSeen, LastSeen: firstSeen,
				Auth:       []string{projector.AuthGrant},
				Permission: "normal",
				UserAgent:  projector.UserAgent{Software: "REST client"},
			},
			{
				ID: aliceConv, Type: projector.TypeSession, Connected: true,
				FirstSeen: firstSeen, LastSeen: lastSeen,
				Auth:       []string{projector.AuthGrant, projector.AuthFast},
				Permission: "restricted",
				UserAgent:  projector.UserAgent{Software: "Conversations", Version: "2.16.1", Device: "Pixel"},
			},
			{
				ID: aliceConvOld, Type: projector.TypeSession,
				LastSeen:  firstSeen,
				Auth:      []string{projector.AuthFast, "x-unknown-method"},
				UserAgent: projector.UserAgent{Software: "Conversations", Version: "2.10.0"},
			},
		},
		bob: {
			{
				ID: bobDino, Type: projector.TypeSession, Connected: true,
				FirstSeen: firstSeen, LastSeen: lastSeen,
				Auth:      []string{projector.AuthPassword},
				UserAgent: projector.UserAgent{Software: "Dino"},
			},
		},
	}
}

// fakeBackend is an in-memory Backend that resolves selectors the way the
// query service does, records its requests, and can fail or block on
// request.
type fakeBackend struct {
	mu       sync.Mutex
	clients  map[string][]projector.ClientView
	lists    []query.ListRequest
	revokes  []query.RevokeRequest
	seq      uint64
	listErr  error
	revErr   error
	listUser string // when set, the User of every ListReply
	// release, when not nil, holds each Revoke until it is closed or the
	// context ends.
	release chan struct{}
	// ignoreCtx makes a held Revoke wait for release only.
	ignoreCtx bool
	// panicMsg, when set, makes every call panic.
	panicMsg string
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{clients: fakeClients()}
}

func (b *fakeBackend) List(ctx context.Context, req query.ListRequest) (*query.ListReply, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lists = append(b.lists, req)
	if b.panicMsg != "" {
		panic(b.panicMsg)
	}
	if b.listErr != nil {
		return nil, b.listErr
	}
	user := req.User
	if b.listUser != "" {
		user = b.listUser
	}
	clients := append([]projector.ClientView(nil), b.clients[req.User]...)
	return &query.ListReply{User: user, Clients: clients, Seq: b.seq}, nil
}

func (b *fakeBackend) Revoke(ctx context.Context, req query.RevokeRequest) (*query.RevokeReply, error) {
	b.mu.Lock()
	b.revokes = append(b.revokes, req)
	release, ignoreCtx := b.release, b.ignoreCtx
	b.mu.Unlock()

	if release != nil {
		if ignoreCtx {
			<-release
		} else {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.panicMsg != "" {
		panic(b.panicMsg)
	}
	if b.revErr != nil {
		return nil, b.revErr
	}
	return b.revokeLocked(req)
}

// revokeLocked removes the clients of req.User that req.Selector matches:
// one listing id, or every client of a software name and optional version.
func (b *fakeBackend) revokeLocked(req query.RevokeRequest) (*query.RevokeReply, error) {
	reply := &query.RevokeReply{}
	var kept []projector.ClientView
	for _, c := range b.clients[req.User] {
		if !selects(req.Selector, c) {
			kept = append(kept, c)
			continue
		}
		reply.Revoked = append(reply.Revoked, c.ID)
		if c.HasAuth(projector.AuthPassword) {
			reply.PasswordResetRequired = true
		}
	}
	if len(reply.Revoked) == 0 {
		return nil, query.ErrNotFound
	}
	b.clients[req.User] = kept
	b.seq++
	reply.Seq = b.seq
	return reply, nil
}

func selects(selector string, c projector.ClientView) bool {
	software, ok := strings.CutPrefix(selector, "software/")
	if !ok {
		return selector == c.ID
	}
	name, version, hasVersion := strings.Cut(software, "/")
	if name != c.UserAgent.Software {
		return false
	}
	return !hasVersion || version == c.UserAgent.Version
}

func (b *fakeBackend) revokeRequests() []query.RevokeRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]query.RevokeRequest(nil), b.revokes...)
}

func (b *fakeBackend) listRequests() []query.ListRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]query.ListRequest(nil), b.lists...)
}

func (b *fakeBackend) clientIDs(user string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ids []string
	for _, c := range b.clients[user] {
		ids = append(ids, c.ID)
	}
	return ids
}

package xmpp

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testSecret = "s3cret"

// fakeComponentServer is the server side of XEP-0114 on 127.0.0.1: it
// accepts connections, checks the handshake, and hands each accepted
// connection to the test.
type fakeComponentServer struct {
	ln         net.Listener
	conns      chan *fakeServerConn
	handshakes atomic.Int32
	// rejects is the number of handshakes to reject with not-authorized
	// before accepting one.
	rejects atomic.Int32
	wg      sync.WaitGroup
}

// fakeServerConn is one accepted component connection after the handshake.
type fakeServerConn struct {
	conn net.Conn
	dec  *xml.Decoder
}

func startFakeComponentServer(t *testing.T) *fakeComponentServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &fakeComponentServer{ln: ln, conns: make(chan *fakeServerConn, 8)}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(func() {
		_ = ln.Close()
		s.wg.Wait()
		close(s.conns)
		for c := range s.conns {
			_ = c.conn.Close()
		}
	})
	return s
}

func (s *fakeComponentServer) addr() string {
	return s.ln.Addr().String()
}

func (s *fakeComponentServer) acceptLoop() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		c, err := s.handshake(conn)
		if err != nil {
			_ = conn.Close()
			continue
		}
		s.conns <- c
	}
}

// handshake reads the component's stream header and handshake, and accepts
// it when the digest matches testSecret and no reject is pending.
func (s *fakeComponentServer) handshake(conn net.Conn) (*fakeServerConn, error) {
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	defer func() { _ = conn.SetDeadline(time.Time{}) }()
	dec := xml.NewDecoder(conn)

	if _, err := nextStart(dec); err != nil {
		return nil, err
	}
	n := s.handshakes.Add(1)
	streamID := fmt.Sprintf("fake-stream-%d", n)
	_, err := fmt.Fprintf(conn, `<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' `+
		`xmlns:stream='http://etherx.jabber.org/streams' id='%s' from='%s'>`, streamID, componentJID)
	if err != nil {
		return nil, err
	}

	start, err := nextStart(dec)
	if err != nil {
		return nil, err
	}
	var digest struct {
		Value string `xml:",chardata"`
	}
	if err := dec.DecodeElement(&digest, &start); err != nil {
		return nil, err
	}
	sum := sha1.Sum([]byte(streamID + testSecret))
	if start.Name.Local != "handshake" || digest.Value != hex.EncodeToString(sum[:]) || s.rejects.Add(-1) >= 0 {
		_, _ = io.WriteString(conn, `<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>`+
			`</stream:error></stream:stream>`)
		return nil, errors.New("handshake rejected")
	}
	if _, err := io.WriteString(conn, `<handshake/>`); err != nil {
		return nil, err
	}
	return &fakeServerConn{conn: conn, dec: dec}, nil
}

// accept returns the next connection that passed the handshake.
func (s *fakeComponentServer) accept(t *testing.T) *fakeServerConn {
	t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatalf("no component connection within 5s (%d handshakes)", s.handshakes.Load())
		return nil
	}
}

func nextStart(dec *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := dec.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if start, ok := tok.(xml.StartElement); ok {
			return start, nil
		}
	}
}

func (c *fakeServerConn) send(t *testing.T, stanza string) {
	t.Helper()
	if _, err := io.WriteString(c.conn, stanza); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// next returns the next stanza that the component sent.
func (c *fakeServerConn) next(t *testing.T) node {
	t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start, err := nextStart(c.dec)
	if err != nil {
		t.Fatalf("read stanza: %v", err)
	}
	var n node
	if err := c.dec.DecodeElement(&n, &start); err != nil {
		t.Fatalf("decode stanza: %v", err)
	}
	return n
}

func (c *fakeServerConn) close() {
	_ = c.conn.Close()
}

// runComponent starts Run of a component for cfg, with the test server's
// address and short backoffs unless set, and stops it when the test ends.
func runComponent(t *testing.T, cfg ComponentConfig) (*Component, context.CancelFunc, <-chan error) {
	t.Helper()
	if cfg.JID == "" {
		cfg.JID = componentJID
	}
	if cfg.Secret == "" {
		cfg.Secret = testSecret
	}
	if cfg.Domains == nil {
		cfg.Domains = []string{serverDomain}
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 40*time.Millisecond
	}
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := NewComponent(cfg)
	if err != nil {
		t.Fatalf("NewComponent: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- c.Run(ctx)
		close(finished)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s after cancel")
		}
	})
	return c, cancel, done
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestComponentReconnects(t *testing.T) {
	srv := startFakeComponentServer(t)
	c, _, _ := runComponent(t, ComponentConfig{Addr: srv.addr(), Backend: newFakeBackend()})

	first := srv.accept(t)
	waitFor(t, "Connected", c.Connected)
	first.send(t, directIQ("get", "l1", aliceFull, listPayload(NSCAM)))
	wantResult(t, first.next(t))
	first.close()

	second := srv.accept(t)
	second.send(t, directIQ("get", "l2", aliceFull, listPayload(NSCAM)))
	reply := second.next(t)
	wantResult(t, reply)
	if got := reply.attr("id"); got != "l2" {
		t.Errorf("reply id = %q, want l2", got)
	}
	waitFor(t, "Connected", c.Connected)
	if n := srv.handshakes.Load(); n != 2 {
		t.Errorf("handshakes = %d, want 2", n)
	}
}

func TestComponentRetriesRejectedHandshake(t *testing.T) {
	srv := startFakeComponentServer(t)
	srv.rejects.Store(2)
	c, _, _ := runComponent(t, ComponentConfig{Addr: srv.addr(), Backend: newFakeBackend()})

	conn := srv.accept(t)
	waitFor(t, "Connected", c.Connected)

	if n := srv.handshakes.Load(); n != 3 {
		t.Errorf("handshakes = %d, want 3", n)
	}
	conn.send(t, directIQ("get", "l1", aliceFull, listPayload(NSCAM)))
	wantResult(t, conn.next(t))
}

func TestComponentNotConnectedWhenServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	c, cancel, done := runComponent(t, ComponentConfig{Addr: addr, Backend: newFakeBackend()})

	time.Sleep(100 * time.Millisecond)
	if c.Connected() {
		t.Errorf("Connected() = true with no server")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("Run did not return within 2s after cancel")
	}
}

func TestComponentStopsOnCancel(t *testing.T) {
	srv := startFakeComponentServer(t)
	c, cancel, done := runComponent(t, ComponentConfig{Addr: srv.addr(), Backend: newFakeBackend()})
	conn := srv.accept(t)
	waitFor(t, "Connected", c.Connected)

	cancel()

	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("Run did not return within 2s after cancel")
	}
	if c.Connected() {
		t.Errorf("Connected() = true after Run returned")
	}
	_ = conn.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadAll(conn.conn); err != nil {
		t.Errorf("connection not closed by the component: %v", err)
	}
}

func TestComponentRepliesConcurrently(t *testing.T) {
	srv := startFakeComponentServer(t)
	b := newFakeBackend()
	b.release = make(chan struct{})
	runComponent(t, ComponentConfig{Addr: srv.addr(), Backend: b})
	conn := srv.accept(t)

	conn.send(t, directIQ("set", "slow", aliceFull, revokePayload(NSCAM, aliceREST)))
	waitFor(t, "revoke at the backend", func() bool { return len(b.revokeRequests()) == 1 })
	conn.send(t, directIQ("get", "fast", aliceFull, listPayload(NSCAM)))

	first := conn.next(t)
	if got := first.attr("id"); got != "fast" {
		t.Fatalf("first reply id = %q, want fast while the revoke is held", got)
	}
	wantResult(t, first)

	close(b.release)
	second := conn.next(t)
	if got := second.attr("id"); got != "slow" {
		t.Fatalf("second reply id = %q, want slow", got)
	}
	wantResult(t, second)
}

func TestComponentBusy(t *testing.T) {
	srv := startFakeComponentServer(t)
	b := newFakeBackend()
	b.release = make(chan struct{})
	runComponent(t, ComponentConfig{Addr: srv.addr(), Backend: b, MaxConcurrent: 1})
	conn := srv.accept(t)

	conn.send(t, directIQ("set", "slow", aliceFull, revokePayload(NSCAM, aliceREST)))
	waitFor(t, "revoke at the backend", func() bool { return len(b.revokeRequests()) == 1 })
	conn.send(t, directIQ("get", "extra", aliceFull, listPayload(NSCAM)))

	busy := conn.next(t)
	if got := busy.attr("id"); got != "extra" {
		t.Fatalf("first reply id = %q, want extra", got)
	}
	wantError(t, busy, "wait", "resource-constraint", "")

	close(b.release)
	wantResult(t, conn.next(t))
}

func TestComponentKeepsSessionAfterEmptyIQ(t *testing.T) {
	srv := startFakeComponentServer(t)
	runComponent(t, ComponentConfig{Addr: srv.addr(), Backend: newFakeBackend()})
	conn := srv.accept(t)

	conn.send(t, directIQ("get", "empty", aliceFull, ""))
	wantError(t, conn.next(t), "modify", "bad-request", "")
	conn.send(t, `<message from="alice@example.test/a" to="clients.example.test"><body>hi</body></message>`)
	conn.send(t, directIQ("result", "ignored", aliceFull, ""))
	conn.send(t, directIQ("get", "l1", aliceFull, listPayload(NSManageClients)))

	reply := conn.next(t)
	if got := reply.attr("id"); got != "l1" {
		t.Fatalf("reply id = %q, want l1", got)
	}
	wantResult(t, reply)
	if n := srv.handshakes.Load(); n != 1 {
		t.Errorf("handshakes = %d, want 1", n)
	}
}

func TestComponentDelegatedRevoke(t *testing.T) {
	srv := startFakeComponentServer(t)
	b := newFakeBackend()
	runComponent(t, ComponentConfig{Addr: srv.addr(), Backend: b})
	conn := srv.accept(t)

	conn.send(t, delegatedIQ(serverDomain, "set", "r1", aliceFull, "", revokePayload(NSCAM, aliceGajim)))

	outer := conn.next(t)
	wantResult(t, outer)
	if outer.XMLName.Space != "jabber:component:accept" {
		t.Errorf("outer namespace = %q, want jabber:component:accept", outer.XMLName.Space)
	}
	inner := innerReply(t, outer)
	wantError(t, inner, "cancel", "service-unavailable", NSCAM)
	if got := inner.attr("to"); got != aliceFull {
		t.Errorf("inner to = %q, want %q", got, aliceFull)
	}
}

func TestNewComponentRejectsInvalidConfig(t *testing.T) {
	valid := ComponentConfig{
		Addr: "127.0.0.1:5347", JID: componentJID, Secret: testSecret,
		Domains: []string{serverDomain}, Backend: newFakeBackend(),
	}
	tests := []struct {
		name   string
		change func(*ComponentConfig)
	}{
		{"no address", func(c *ComponentConfig) { c.Addr = "" }},
		{"address without port", func(c *ComponentConfig) { c.Addr = "127.0.0.1" }},
		{"no JID", func(c *ComponentConfig) { c.JID = "" }},
		{"JID with localpart", func(c *ComponentConfig) { c.JID = "x@" + componentJID }},
		{"no secret", func(c *ComponentConfig) { c.Secret = "" }},
		{"no backend", func(c *ComponentConfig) { c.Backend = nil }},
		{"no domains", func(c *ComponentConfig) { c.Domains = nil }},
		{"min backoff above max", func(c *ComponentConfig) { c.MinBackoff, c.MaxBackoff = time.Second, time.Millisecond }},
	}
	if _, err := NewComponent(valid); err != nil {
		t.Fatalf("NewComponent(valid) = %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid
			tc.change(&cfg)
			if _, err := NewComponent(cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("NewComponent error = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: 30 * time.Second}
	steps := []time.Duration{
		100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		1600 * time.Millisecond, 3200 * time.Millisecond, 6400 * time.Millisecond, 12800 * time.Millisecond,
		25600 * time.Millisecond, 30 * time.Second, 30 * time.Second,
	}
	for i, step := range steps {
		got := b.next()
		if got < step/2 || got > step {
			t.Errorf("wait %d = %v, want within [%v, %v]", i+1, got, step/2, step)
		}
	}

	b.reset()
	if got := b.next(); got < 50*time.Millisecond || got > 100*time.Millisecond {
		t.Errorf("wait after reset = %v, want within [50ms, 100ms]", got)
	}
}

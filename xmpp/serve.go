package xmpp

import (
	"context"
	"encoding/xml"
	"sync"
	"time"

	"mellium.im/xmlstream"
	mellium "mellium.im/xmpp"
)

// Timeouts of writes on a served session.
const (
	// sendTimeout bounds the write of one reply.
	sendTimeout = 10 * time.Second
	// closeTimeout bounds the write of the stream end when Serve stops.
	closeTimeout = time.Second
)

// Serve serves the stanzas that arrive on s, which must be a session in the
// component namespace, until the session ends or ctx ends. Each get or set
// IQ is handled in its own goroutine, so that a slow Backend call does not
// hold up other IQs. At most MaxConcurrent IQs are handled at once, and
// further IQs get wait/resource-constraint. Other stanzas are ignored.
//
// When ctx ends, Serve closes the stream and the connection of s. When the
// session ends for any reason, Serve closes the connection, cancels the
// Backend calls in progress and waits for their goroutines before it
// returns. It returns nil when ctx ended or the peer closed the stream, and
// otherwise the error that ended the session.
func (h *Handler) Serve(ctx context.Context, s *mellium.Session) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	closed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		closeSession(s)
		close(closed)
	})

	sh := &sessionHandler{
		h:       h,
		ctx:     ctx,
		session: s,
		slots:   make(chan struct{}, h.maxConcurrent),
	}
	err := s.Serve(sh)
	ended := ctx.Err() != nil
	if stop() {
		closeSession(s)
	} else {
		<-closed
	}
	cancel()
	sh.wg.Wait()

	if ended {
		return nil
	}
	return err
}

// closeSession ends the output stream of s, waiting at most closeTimeout for
// the write, and closes its connection.
func closeSession(s *mellium.Session) {
	conn := s.Conn()
	_ = conn.SetWriteDeadline(time.Now().Add(closeTimeout))
	_ = s.Close()
	_ = conn.Close()
}

// sessionHandler is the mellium.im/xmpp handler that Serve installs. It
// reads each IQ while the session has its input lock, and then replies
// from a goroutine with Session.Send, which is safe for concurrent use.
//
// It does not use mellium.im/xmpp/mux, because the mux router of v0.22.0
// returns io.EOF for a get or set IQ without a payload, which makes
// Session.Serve end the session without a reply.
type sessionHandler struct {
	h       *Handler
	ctx     context.Context
	session *mellium.Session
	slots   chan struct{}
	wg      sync.WaitGroup
}

// HandleXMPP implements mellium.Handler.
func (sh *sessionHandler) HandleXMPP(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if !isIQName(start.Name) {
		return nil
	}
	iq, err := readElement(t, *start)
	if err != nil {
		return err
	}
	hdr := headerOf(iq)
	if !hdr.isRequest() {
		return nil
	}

	select {
	case sh.slots <- struct{}{}:
	default:
		sh.h.log.Warn("iq rejected: too many in progress", "id", hdr.id, "from", hdr.from, "max", cap(sh.slots))
		_, err := xmlstream.Copy(t, &sliceReader{toks: hdr.errorReply(errBusy).appendTokens(nil)})
		return err
	}

	sh.wg.Add(1)
	go sh.serveIQ(iq, hdr)
	return nil
}

func (sh *sessionHandler) serveIQ(iq *element, hdr iqHeader) {
	defer sh.wg.Done()
	defer func() { <-sh.slots }()

	toks := sh.h.replyTokens(sh.ctx, iq)
	if toks == nil {
		return
	}
	// mellium.im/xmpp v0.22.0 watches ctx from a goroutine that may, when
	// ctx ends after Send returned, set the connection's write deadline to
	// the past for a moment and so fail a concurrent Send. So ctx ends only
	// by its own timeout, long after this Send returned.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(sh.ctx), sendTimeout)
	time.AfterFunc(sendTimeout, cancel)
	if err := sh.session.Send(ctx, &sliceReader{toks: toks}); err != nil {
		sh.h.log.Warn("iq reply not sent", "id", hdr.id, "from", hdr.from, "err", err)
	}
}

// replyTokens returns the tokens of the reply to iq, or nil when none is
// due. A panic while building the reply is logged and turned into a
// wait/internal-server-error reply.
func (h *Handler) replyTokens(ctx context.Context, iq *element) (toks []xml.Token) {
	defer func() {
		if p := recover(); p != nil {
			hdr := headerOf(iq)
			h.log.Error("iq handler panicked", "id", hdr.id, "from", hdr.from, "panic", p)
			toks = hdr.errorReply(errInternal).appendTokens(nil)
		}
	}()

	reply := h.replyTo(ctx, iq)
	if reply == nil {
		return nil
	}
	return reply.appendTokens(nil)
}

package xmpp

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/clientele-xmpp/clientele/query"
)

// Defaults of HandlerConfig.
const (
	DefaultRequestTimeout = 5 * time.Second
	DefaultMaxConcurrent  = 64
)

// HandlerConfig configures a Handler.
type HandlerConfig struct {
	// Backend lists and revokes clients. Required.
	Backend Backend
	// Domains are the served server domains, such as "example.test". Only
	// users of these domains are served, and only these domains may send
	// delegated IQs. At least one is required.
	Domains []string
	// RequestTimeout bounds each Backend call. Zero means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxConcurrent is the maximum number of IQs that Serve handles at once.
	// Further IQs get wait/resource-constraint. Zero means
	// DefaultMaxConcurrent.
	MaxConcurrent int
	// Logger receives failed Backend calls, revokes and send failures. Nil
	// means no logging.
	Logger *slog.Logger
}

// Handler replies to the IQs of the client access protocol, to disco#info
// and to ping. It is safe for concurrent use.
type Handler struct {
	backend       Backend
	domains       map[string]bool
	timeout       time.Duration
	maxConcurrent int
	log           *slog.Logger
	seqs          *seqTracker
}

// NewHandler returns a Handler for cfg. It returns an error wrapping
// ErrInvalidConfig when the Backend is missing, no domain is given, or a
// domain is not a valid domain JID.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	if cfg.Backend == nil {
		return nil, fmt.Errorf("%w: missing backend", ErrInvalidConfig)
	}
	if len(cfg.Domains) == 0 {
		return nil, fmt.Errorf("%w: no served domain", ErrInvalidConfig)
	}

	h := &Handler{
		backend:       cfg.Backend,
		domains:       make(map[string]bool, len(cfg.Domains)),
		timeout:       cfg.RequestTimeout,
		maxConcurrent: cfg.MaxConcurrent,
		log:           cfg.Logger,
		seqs:          newSeqTracker(),
	}
	for _, d := range cfg.Domains {
		j, err := jid.Parse(d)
		if err != nil || j.Localpart() != "" || j.Resourcepart() != "" {
			return nil, fmt.Errorf("%w: domain %q is not a domain JID", ErrInvalidConfig, d)
		}
		h.domains[j.Domainpart()] = true
	}
	if h.timeout <= 0 {
		h.timeout = DefaultRequestTimeout
	}
	if h.maxConcurrent <= 0 {
		h.maxConcurrent = DefaultMaxConcurrent
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// Reply reads one stanza from r, starting at its start element, and returns
// the reply to send. The reply is nil for stanzas that get none: messages,
// presences, and result or error IQs. Every get or set IQ gets a reply,
// which is an error reply when the IQ cannot be served. Reply blocks for the
// Backend call, at most for the configured RequestTimeout. It returns an
// error only when r fails, ends early, or does not start with an element.
func (h *Handler) Reply(ctx context.Context, r xml.TokenReader) (xml.TokenReader, error) {
	start, err := firstStart(r)
	if err != nil {
		return nil, err
	}
	stanzaElement, err := readElement(r, start)
	if err != nil {
		return nil, err
	}

	toks := h.replyTokens(ctx, stanzaElement)
	if toks == nil {
		return nil, nil
	}
	return &sliceReader{toks: toks}, nil
}

// firstStart reads r up to the first start element, skipping whitespace,
// comments and processing instructions.
func firstStart(r xml.TokenReader) (xml.StartElement, error) {
	for {
		tok, err := r.Token()
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.EndElement, xml.Directive:
			return xml.StartElement{}, fmt.Errorf("%w: got %T", ErrNotElement, tok)
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return xml.StartElement{}, fmt.Errorf("%w: got text", ErrNotElement)
			}
		}
		if err == io.EOF {
			return xml.StartElement{}, fmt.Errorf("%w: got end of input", ErrNotElement)
		}
		if err != nil {
			return xml.StartElement{}, err
		}
	}
}

// replyTo returns the reply to the stanza iq, or nil when none is due.
func (h *Handler) replyTo(ctx context.Context, iq *element) *element {
	if !isIQName(iq.name) {
		return nil
	}
	hdr := headerOf(iq)
	if !hdr.isRequest() {
		return nil
	}
	if iq.oversized {
		return hdr.errorReply(errTooLarge)
	}

	payload, ok := iq.onlyChild()
	if !ok {
		return hdr.errorReply(errBadRequest)
	}
	if payload.name == delegationName {
		return h.replyDelegated(ctx, hdr, payload)
	}
	return h.replyDirect(ctx, hdr, payload)
}

// replyDirect returns the reply to an IQ addressed to the component.
func (h *Handler) replyDirect(ctx context.Context, hdr iqHeader, payload *element) *element {
	if !isProtocolNS(payload.name.Space) {
		result, serr, ok := replyService(hdr, payload)
		if !ok {
			return hdr.errorReply(errServiceUnavailable)
		}
		return hdr.reply(result, serr)
	}

	user, ok := h.directUser(hdr)
	if !ok {
		return hdr.errorReply(errForbidden)
	}
	result, serr := h.serveRequest(ctx, user, hdr.typ, payload)
	return hdr.reply(result, serr)
}

// serveRequest serves the protocol request req of user in an IQ of type typ.
// It returns the result payload, which is nil for an empty result, or the
// error of the reply.
func (h *Handler) serveRequest(ctx context.Context, user jid.JID, typ string, req *element) (*element, *stanzaError) {
	switch req.name.Local {
	case "list":
		if typ != string(stanza.GetIQ) {
			return nil, fail(errBadRequest)
		}
		return h.list(ctx, user.String(), req.name.Space)
	case "revoke":
		if typ != string(stanza.SetIQ) {
			return nil, fail(errBadRequest)
		}
		id, _ := req.attrValue("id")
		return nil, h.revoke(ctx, user.String(), req.name.Space, id)
	default:
		return nil, fail(errNotImplemented)
	}
}

// list returns the <clients/> payload of user in the namespace ns.
func (h *Handler) list(ctx context.Context, user, ns string) (*element, *stanzaError) {
	req := query.ListRequest{User: user, MinSeq: h.seqs.minSeq(user)}
	reply, err := callBackend(ctx, h.timeout, func(ctx context.Context) (*query.ListReply, error) {
		return h.backend.List(ctx, req)
	})
	if err != nil {
		h.log.Warn("list clients failed", "user", user, "err", err)
		return nil, fail(backendError(err))
	}
	if reply == nil || (reply.User != "" && reply.User != user) {
		// A reply about another account must never reach this user.
		h.log.Error("list clients returned another account", "user", user)
		return nil, fail(errInternal)
	}
	return clientsElement(ns, reply.Clients), nil
}

// revoke revokes the clients of user that id selects. It returns nil only
// when the Backend confirmed the revoke and no revoked client keeps password
// access.
func (h *Handler) revoke(ctx context.Context, user, ns, id string) *stanzaError {
	if !validSelector(id) {
		return fail(errItemNotFound)
	}

	req := query.RevokeRequest{User: user, Selector: id, Actor: user}
	reply, err := callBackend(ctx, h.timeout, func(ctx context.Context) (*query.RevokeReply, error) {
		return h.backend.Revoke(ctx, req)
	})
	if err != nil {
		serr := backendError(err)
		level := slog.LevelWarn
		if serr == errItemNotFound || serr == errBadRequest {
			level = slog.LevelDebug
		}
		h.log.Log(ctx, level, "revoke failed", "user", user, "selector", id, "err", err)
		return fail(serr)
	}
	if reply == nil {
		h.log.Error("revoke returned no reply", "user", user, "selector", id)
		return fail(errInternal)
	}

	h.seqs.observe(user, reply.Seq)
	h.log.Info("clients revoked", "user", user, "selector", id,
		"revoked", len(reply.Revoked), "password_reset_required", reply.PasswordResetRequired)
	if reply.PasswordResetRequired {
		return fail(errPasswordResetRequired(ns))
	}
	return nil
}

// fail returns a pointer to a copy of e.
func fail(e stanzaError) *stanzaError {
	return &e
}

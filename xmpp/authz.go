package xmpp

import (
	"mellium.im/xmpp/jid"
)

// Authorization decides which account a request is about. Each check
// returns only whether the request is allowed, never why not, so that every
// rejection gets the same auth/forbidden reply whether or not another account
// exists.

// directUser returns the account that a direct IQ to the component is about:
// the bare JID of its stamped from, which must be a user of a served domain.
// A to with a localpart could name another account, so it is rejected.
func (h *Handler) directUser(hdr iqHeader) (jid.JID, bool) {
	from, ok := h.servedUser(hdr.from)
	if !ok {
		return jid.JID{}, false
	}
	if hdr.to != "" {
		to, err := jid.Parse(hdr.to)
		if err != nil || to.Localpart() != "" {
			return jid.JID{}, false
		}
	}
	return from.Bare(), true
}

// delegatedUser returns the account that a forwarded IQ is about. server is
// the outer from, which serverDomain has accepted. The inner from must be a
// user of that domain, and the inner to must be absent or that user's bare
// JID. Servers also forward IQs addressed to another account or to the
// host, so the to check is what keeps a user to their own account.
func (h *Handler) delegatedUser(server string, inner iqHeader) (jid.JID, bool) {
	from, ok := h.servedUser(inner.from)
	if !ok || from.Domainpart() != server {
		return jid.JID{}, false
	}
	bare := from.Bare()
	if inner.to != "" {
		to, err := jid.Parse(inner.to)
		if err != nil || !to.Equal(bare) {
			return jid.JID{}, false
		}
	}
	return bare, true
}

// servedUser parses raw as the JID of a user, which has a localpart, of a
// served domain.
func (h *Handler) servedUser(raw string) (jid.JID, bool) {
	if raw == "" {
		return jid.JID{}, false
	}
	j, err := jid.Parse(raw)
	if err != nil || j.Localpart() == "" || !h.domains[j.Domainpart()] {
		return jid.JID{}, false
	}
	return j, true
}

// serverDomain returns the normalized domain of raw when raw is exactly one
// of the served server domains, without localpart or resource.
func (h *Handler) serverDomain(raw string) (string, bool) {
	if raw == "" {
		return "", false
	}
	j, err := jid.Parse(raw)
	if err != nil || j.Localpart() != "" || j.Resourcepart() != "" || !h.domains[j.Domainpart()] {
		return "", false
	}
	return j.Domainpart(), true
}

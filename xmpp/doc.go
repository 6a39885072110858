// Package xmpp serves the client access protocol, which lets an account owner
// list the clients that have access to their account and revoke them, over a
// XEP-0114 component connection with XEP-0355 namespace delegation.
//
// # Protocol
//
// Two namespaces carry the same protocol on the same data:
// NSManageClients (Prosody's mod_client_management) and NSCAM (XEP-0494,
// Client Access Management). A <list/> in a get IQ returns <clients/>, and a
// <revoke id="…"/> in a set IQ returns an empty result once the Backend
// confirmed the revoke. Every get or set IQ gets exactly one reply, and a
// revoke is never reported as done unless the Backend returned success.
//
// # Addressing and authorization
//
// A user can reach the component in two ways. A direct IQ is addressed to the
// component, and the request is about the bare JID in its stamped from
// attribute. A delegated IQ is one that the user sent to their own account
// and that the server forwarded inside a XEP-0355 <delegation/> wrapper. It
// is accepted only when the outer from is one of the served server domains,
// the inner from is a user of that domain, and the inner to is absent or that
// user's bare JID. Everything else gets auth/forbidden, and the reply does
// not depend on whether another account exists.
//
// # Transport
//
// Handler turns one IQ into its reply and can serve an established
// mellium.im/xmpp session. Component dials the server, performs the XEP-0114
// handshake, serves the session, and redials with exponential backoff when
// the connection drops.
package xmpp

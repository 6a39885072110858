package main

import (
	"context"
	"flag"
	"log/slog"
)

// xmppFlags are the flags of serve's XMPP component.
type xmppFlags struct {
	Component  string
	JID        string
	SecretFile string
	Domains    string
}

func registerXMPPFlags(fs *flag.FlagSet) *xmppFlags {
	x := &xmppFlags{}
	fs.StringVar(&x.Component, "xmpp-component", "", "HOST:PORT of the XMPP server's component port (XEP-0114); empty runs no XMPP component")
	return x
}

func (x *xmppFlags) enabled() bool { return x.Component != "" }

func (x *xmppFlags) validate() error { return nil }

func runXMPP(ctx context.Context, x *xmppFlags, s *service, logger *slog.Logger) error {
	<-ctx.Done()
	return nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/clientele-xmpp/clientele/query"
	"github.com/clientele-xmpp/clientele/xmpp"
)

// xmppFlags are the flags of serve's XMPP component.
type xmppFlags struct {
	Component  string
	JID        string
	SecretFile string
	Domains    string
	Timeout    time.Duration
}

func registerXMPPFlags(fs *flag.FlagSet) *xmppFlags {
	x := &xmppFlags{}
	fs.StringVar(&x.Component, "xmpp-component", "", "`HOST:PORT` of the XMPP server's external component port (XEP-0114); empty runs no XMPP component")
	fs.StringVar(&x.JID, "xmpp-jid", "", "`JID` of the component, such as clients.example.com, as configured on the XMPP server")
	fs.StringVar(&x.SecretFile, "xmpp-secret-file", "", "`file` with the component's shared secret (surrounding whitespace is ignored)")
	fs.StringVar(&x.Domains, "xmpp-domain", "", "comma-separated `domains` of the XMPP server whose users the component serves, such as example.com")
	fs.DurationVar(&x.Timeout, "xmpp-request-timeout", xmpp.DefaultRequestTimeout, "time an XMPP request may wait for the query service before it gets an error reply, as a duration such as 5s")
	return x
}

func (x *xmppFlags) enabled() bool { return x.Component != "" }

// validate checks that the flags that the component needs are set together.
func (x *xmppFlags) validate() error {
	if !x.enabled() {
		if x.JID != "" || x.SecretFile != "" || x.Domains != "" {
			return errors.New("--xmpp-jid, --xmpp-secret-file and --xmpp-domain need --xmpp-component HOST:PORT")
		}
		return nil
	}
	var missing []string
	if x.JID == "" {
		missing = append(missing, "--xmpp-jid")
	}
	if x.SecretFile == "" {
		missing = append(missing, "--xmpp-secret-file")
	}
	if x.Domains == "" {
		missing = append(missing, "--xmpp-domain")
	}
	if len(missing) > 0 {
		return fmt.Errorf("--xmpp-component needs %s", strings.Join(missing, ", "))
	}
	return nil
}

func (x *xmppFlags) domains() []string {
	var out []string
	for d := range strings.SplitSeq(x.Domains, ",") {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	return out
}

func readSecret(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read --xmpp-secret-file: %w", err)
	}
	secret := strings.TrimSpace(string(data))
	if secret == "" {
		return "", fmt.Errorf("--xmpp-secret-file %s is empty: write the component secret into it", path)
	}
	return secret, nil
}

// runXMPP runs the XMPP component until ctx ends. It calls the query service
// over NATS, so that any replica may handle the request.
func runXMPP(ctx context.Context, x *xmppFlags, s *service, logger *slog.Logger) error {
	secret, err := readSecret(x.SecretFile)
	if err != nil {
		return err
	}
	c, err := xmpp.NewComponent(xmpp.ComponentConfig{
		Addr: x.Component, JID: x.JID, Secret: secret, Domains: x.domains(),
		Backend: meteredBackend{client: query.NewClient(s.nc), metrics: s.metrics},
		Logger:  logger, RequestTimeout: x.Timeout,
	})
	if err != nil {
		return err
	}
	return c.Run(ctx)
}

// meteredBackend records XMPP requests in the query metrics.
type meteredBackend struct {
	client  *query.Client
	metrics *query.Metrics
}

func (b meteredBackend) List(ctx context.Context, req query.ListRequest) (*query.ListReply, error) {
	start := time.Now()
	reply, err := b.client.List(ctx, req)
	b.metrics.Observe("xmpp", "list", outcome(err), start)
	return reply, err
}

func (b meteredBackend) Revoke(ctx context.Context, req query.RevokeRequest) (*query.RevokeReply, error) {
	start := time.Now()
	reply, err := b.client.Revoke(ctx, req)
	b.metrics.Observe("xmpp", "revoke", outcome(err), start)
	return reply, err
}

func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, query.ErrNotFound):
		return "not_found"
	case errors.Is(err, query.ErrBadRequest):
		return "bad_request"
	case errors.Is(err, query.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "error"
}

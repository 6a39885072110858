package ops

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"
)

// DefaultNATSURL is the NATS URL of client subcommands: the embedded server
// of a local `clientele serve`.
const DefaultNATSURL = "nats://127.0.0.1:4222"

// NATSConfig sets up a NATS client connection. Its zero value is not
// usable because URL is empty. Use DefaultNATSConfig for client subcommands.
type NATSConfig struct {
	// URL is a NATS server URL or a comma-separated list of them. A URL may
	// omit the scheme, which is then nats://.
	URL string
	// Creds is a credentials file with a user JWT and NKey seed, as written
	// by the nsc tool. Excludes NKey.
	Creds string
	// NKey is a file with an NKey user seed. Excludes Creds.
	NKey string
	// TLSCA is a PEM file of CA certificates that verify the server.
	TLSCA string
	// TLSCert and TLSKey are the PEM files of a client certificate and its
	// private key, for servers that verify clients. Set both or neither.
	TLSCert, TLSKey string
	// Name is the connection name that the server shows in its connection
	// lists, such as "clientele serve".
	Name string
}

// DefaultNATSConfig returns the NATS client configuration with URL set to
// DefaultNATSURL.
func DefaultNATSConfig() NATSConfig {
	return NATSConfig{URL: DefaultNATSURL}
}

// RegisterFlags binds the fields of c to --nats-url, --nats-creds,
// --nats-nkey, --nats-tls-ca, --nats-tls-cert and --nats-tls-key on fs, with
// the current values as defaults. Name has no flag.
func (c *NATSConfig) RegisterFlags(fs *flag.FlagSet) {
	c.registerFlags(fs, "NATS server `URL`, or a comma-separated list of URLs, to connect to")
}

func (c *NATSConfig) registerFlags(fs *flag.FlagSet, urlUsage string) {
	stringFlag(fs, &c.URL, "nats-url", urlUsage)
	stringFlag(fs, &c.Creds, "nats-creds", "NATS credentials `file` (user JWT and NKey seed) to authenticate with")
	stringFlag(fs, &c.NKey, "nats-nkey", "`file` with an NKey user seed to authenticate with")
	stringFlag(fs, &c.TLSCA, "nats-tls-ca", "PEM `file` of CA certificates that verify the NATS server")
	stringFlag(fs, &c.TLSCert, "nats-tls-cert", "PEM `file` of a client certificate for NATS, used with --nats-tls-key")
	stringFlag(fs, &c.TLSKey, "nats-tls-key", "PEM `file` of the private key of --nats-tls-cert")
}

// Validate checks the form of c without reading any file. Every error
// wraps ErrInvalidConfig and names the flag to fix.
func (c NATSConfig) Validate() error {
	var errs []error
	if len(splitURLs(c.URL)) == 0 {
		errs = append(errs, fmt.Errorf("%w: NATS URL is empty: pass --nats-url", ErrInvalidConfig))
	}
	for _, u := range splitURLs(c.URL) {
		if err := checkNATSURL(u); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Creds != "" && c.NKey != "" {
		errs = append(errs, fmt.Errorf("%w: --nats-creds and --nats-nkey are both set: pass only one", ErrInvalidConfig))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, fmt.Errorf("%w: --nats-tls-cert and --nats-tls-key must be set together", ErrInvalidConfig))
	}
	return errors.Join(errs...)
}

// splitURLs splits a comma-separated URL list as nats.Connect does, dropping
// empty entries.
func splitURLs(list string) []string {
	var urls []string
	for u := range strings.SplitSeq(list, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	return urls
}

func checkNATSURL(raw string) error {
	u, err := parseNATSURL(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: NATS URL %q: expected a URL such as nats://127.0.0.1:4222", ErrInvalidConfig, redactURL(raw))
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
		return nil
	}
	return fmt.Errorf("%w: NATS URL %q: scheme %q: expected nats, tls, ws or wss", ErrInvalidConfig, redactURL(raw), u.Scheme)
}

// parseNATSURL parses one URL and, like nats.Connect, reads a URL without
// a scheme as nats://.
func parseNATSURL(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		raw = "nats://" + raw
	}
	return url.Parse(raw)
}

// redactURLs returns a comma-separated URL list with the user information
// of every URL replaced, because it can hold a password or a token.
func redactURLs(list string) string {
	urls := splitURLs(list)
	for i, u := range urls {
		urls[i] = redactURL(u)
	}
	return strings.Join(urls, ",")
}

func redactURL(raw string) string {
	u, err := parseNATSURL(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	if !strings.Contains(raw, "://") {
		return strings.TrimPrefix(u.String(), "nats://")
	}
	return u.String()
}

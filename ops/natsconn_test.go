package ops

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/clientele-xmpp/clientele/ops/natstest"
)

// freePort returns a loopback port that nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// startServer runs a nats-server with opts on a random loopback port until
// the test ends.
func startServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host = "127.0.0.1"
	opts.Port = server.RANDOM_PORT
	opts.NoLog = true
	opts.NoSigs = true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready after 10s")
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}

func connectTest(t *testing.T, cfg NATSConfig) (*nats.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	logger, _ := newTestLogger()
	nc, err := Connect(ctx, cfg, logger)
	if nc != nil {
		t.Cleanup(nc.Close)
	}
	return nc, err
}

func TestConnectURLList(t *testing.T) {
	srv := natstest.Start(t)
	dead := fmt.Sprintf("nats://127.0.0.1:%d", freePort(t))
	cfg := NATSConfig{URL: dead + ", " + srv.ClientURL(), Name: "ops test client"}

	nc, err := connectTest(t, cfg)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if !nc.IsConnected() {
		t.Fatal("connection not connected")
	}
	if got := nc.ConnectedUrl(); got != srv.ClientURL() {
		t.Errorf("connected to %q, want %q", got, srv.ClientURL())
	}

	connz, err := srv.Connz(&server.ConnzOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range connz.Conns {
		names = append(names, c.Name)
	}
	if len(names) != 1 || names[0] != cfg.Name {
		t.Errorf("server sees connection names %q, want [%q]", names, cfg.Name)
	}
}

func TestConnectFailureNamesURL(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	_, err := connectTest(t, NATSConfig{URL: "nats://alice:s3cret@" + addr})
	if !errors.Is(err, ErrConnect) {
		t.Fatalf("error %v does not wrap ErrConnect", err)
	}
	if !errors.Is(err, nats.ErrNoServers) {
		t.Errorf("error %v does not wrap nats.ErrNoServers", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "nats://redacted@"+addr) {
		t.Errorf("error %q does not name the redacted URL", msg)
	}
	if strings.Contains(msg, "s3cret") || strings.Contains(msg, "alice") {
		t.Errorf("error %q shows user information", msg)
	}
	if !strings.Contains(msg, "--nats-url") {
		t.Errorf("error %q does not say what to check", msg)
	}
}

func TestConnectInvalidConfig(t *testing.T) {
	existing := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(existing, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.creds")

	tests := []struct {
		name string
		cfg  NATSConfig
		want string
	}{
		{"empty URL", NATSConfig{}, "--nats-url"},
		{"blank URL list", NATSConfig{URL: " , "}, "--nats-url"},
		{"unknown scheme", NATSConfig{URL: "http://127.0.0.1:4222"}, `scheme "http"`},
		{"second URL bad", NATSConfig{URL: "nats://127.0.0.1:4222,nats://%zz"}, "expected a URL"},
		{"creds and nkey", NATSConfig{URL: DefaultNATSURL, Creds: existing, NKey: existing}, "pass only one"},
		{"cert without key", NATSConfig{URL: DefaultNATSURL, TLSCert: existing}, "--nats-tls-key"},
		{"key without cert", NATSConfig{URL: DefaultNATSURL, TLSKey: existing}, "--nats-tls-cert"},
		{"missing creds file", NATSConfig{URL: DefaultNATSURL, Creds: missing}, "--nats-creds: open " + missing},
		{"missing CA file", NATSConfig{URL: DefaultNATSURL, TLSCA: missing}, "--nats-tls-ca"},
		{"nkey file without seed", NATSConfig{URL: DefaultNATSURL, NKey: existing}, "NKey user seed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := connectTest(t, tt.cfg)
			if err == nil {
				t.Fatalf("Connect returned no error and connection %v", nc)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestRedactURLs(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no user", "nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"user and password", "nats://u:p@127.0.0.1:4222", "nats://redacted@127.0.0.1:4222"},
		{"token", "tls://tok3n@nats.example.test:4222", "tls://redacted@nats.example.test:4222"},
		{"no scheme", "u:p@127.0.0.1:4222", "redacted@127.0.0.1:4222"},
		{"list", "nats://a:b@h1:4222, nats://h2:4222", "nats://redacted@h1:4222,nats://h2:4222"},
		{"unparsable", "nats://u:p@%zz", "(unparsable URL)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactURLs(tt.in); got != tt.want {
				t.Errorf("redactURLs(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestConnectNKey(t *testing.T) {
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := user.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := user.Seed()
	if err != nil {
		t.Fatal(err)
	}
	seedFile := filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})

	t.Run("with seed", func(t *testing.T) {
		if _, err := connectTest(t, NATSConfig{URL: srv.ClientURL(), NKey: seedFile}); err != nil {
			t.Errorf("Connect: %v", err)
		}
	})
	t.Run("without seed", func(t *testing.T) {
		_, err := connectTest(t, NATSConfig{URL: srv.ClientURL()})
		if !errors.Is(err, ErrConnect) || !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("error %v does not wrap ErrConnect and nats.ErrAuthorization", err)
		}
		if !strings.Contains(err.Error(), "--nats-nkey") {
			t.Errorf("error %q does not point to the credentials flags", err)
		}
	})
}

func TestConnectCreds(t *testing.T) {
	operator, _ := nkeys.CreateOperator()
	operatorPub, _ := operator.PublicKey()
	account, _ := nkeys.CreateAccount()
	accountPub, _ := account.PublicKey()
	user, _ := nkeys.CreateUser()
	userPub, _ := user.PublicKey()
	userSeed, _ := user.Seed()

	operatorClaims := jwt.NewOperatorClaims(operatorPub)
	if _, err := operatorClaims.Encode(operator); err != nil {
		t.Fatal(err)
	}
	accountJWT, err := jwt.NewAccountClaims(accountPub).Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	userJWT, err := jwt.NewUserClaims(userPub).Encode(account)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := jwt.FormatUserConfig(userJWT, userSeed)
	if err != nil {
		t.Fatal(err)
	}
	credsFile := filepath.Join(t.TempDir(), "user.creds")
	if err := os.WriteFile(credsFile, creds, 0o600); err != nil {
		t.Fatal(err)
	}

	resolver := &server.MemAccResolver{}
	if err := resolver.Store(accountPub, accountJWT); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, &server.Options{
		TrustedOperators: []*jwt.OperatorClaims{operatorClaims},
		AccountResolver:  resolver,
	})

	t.Run("with creds", func(t *testing.T) {
		nc, err := connectTest(t, NATSConfig{URL: srv.ClientURL(), Creds: credsFile})
		if err != nil {
			t.Fatalf("Connect: %v", err)
		}
		if err := nc.Publish("creds.test", []byte("x")); err != nil {
			t.Errorf("publish: %v", err)
		}
	})
	t.Run("without creds", func(t *testing.T) {
		_, err := connectTest(t, NATSConfig{URL: srv.ClientURL()})
		if !errors.Is(err, ErrConnect) {
			t.Fatalf("error %v does not wrap ErrConnect", err)
		}
		if !strings.Contains(err.Error(), "--nats-creds") {
			t.Errorf("error %q does not point to the credentials flags", err)
		}
	})
}

func TestConnectTLS(t *testing.T) {
	pki := newTestPKI(t)
	tlsConfig, err := server.GenTLSConfig(&server.TLSConfigOpts{
		CertFile: pki.ServerCert,
		KeyFile:  pki.ServerKey,
		CaFile:   pki.CA,
		Verify:   true,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, &server.Options{TLS: true, TLSVerify: true, TLSConfig: tlsConfig, TLSTimeout: 2})
	url := srv.ClientURL()

	t.Run("CA and client certificate", func(t *testing.T) {
		nc, err := connectTest(t, NATSConfig{URL: url, TLSCA: pki.CA, TLSCert: pki.ClientCert, TLSKey: pki.ClientKey})
		if err != nil {
			t.Fatalf("Connect: %v", err)
		}
		if _, err := nc.TLSConnectionState(); err != nil {
			t.Errorf("connection is not TLS: %v", err)
		}
	})
	t.Run("unknown CA", func(t *testing.T) {
		_, err := connectTest(t, NATSConfig{URL: url, TLSCA: newTestPKI(t).CA, TLSCert: pki.ClientCert, TLSKey: pki.ClientKey})
		if !errors.Is(err, ErrConnect) {
			t.Fatalf("error %v does not wrap ErrConnect", err)
		}
		if !strings.Contains(err.Error(), "--nats-tls-ca") {
			t.Errorf("error %q does not point to the TLS flags", err)
		}
	})
}

func TestConnectContextEnds(t *testing.T) {
	// A listener that accepts and never sends the NATS INFO line keeps the
	// client waiting until its dial timeout of two seconds.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Connect(ctx, NATSConfig{URL: "nats://" + ln.Addr().String()}, nil)
	if !errors.Is(err, ErrConnect) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v does not wrap ErrConnect and context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Connect returned after %s, want soon after the context ended", elapsed)
	}
}

func TestConnectLogsReconnect(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	first := natstest.StartIn(t, dir, port)

	logger, logs := newTestLogger()
	nc, err := Connect(context.Background(), NATSConfig{URL: first.ClientURL(), Name: "reconnect test"}, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	waitForLog(t, logs, "msg=\"nats connected\"")

	first.Shutdown()
	first.WaitForShutdown()
	waitForLog(t, logs, "msg=\"nats disconnected\"")

	natstest.StartIn(t, dir, port)
	waitForLog(t, logs, "msg=\"nats reconnected\"")
	if !nc.IsConnected() {
		t.Error("connection not connected after the server returned")
	}

	nc.Close()
	waitForLog(t, logs, "msg=\"nats connection closed\"")
}

func TestConnectLogsAsyncError(t *testing.T) {
	srv := natstest.Start(t)
	logger, logs := newTestLogger()
	nc, err := Connect(context.Background(), NATSConfig{URL: srv.ClientURL()}, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	block := make(chan struct{})
	defer close(block)
	sub, err := nc.Subscribe("slow.subject", func(*nats.Msg) { <-block })
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SetPendingLimits(1, -1); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if err := nc.Publish("slow.subject", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, logs, `msg="nats asynchronous error" subject=slow.subject`)
}

func TestReconnectDelay(t *testing.T) {
	tests := []struct {
		name     string
		attempts int
		base     time.Duration
	}{
		{"zero", 0, 250 * time.Millisecond},
		{"first", 1, 250 * time.Millisecond},
		{"second", 2, 500 * time.Millisecond},
		{"fifth", 5, 4 * time.Second},
		{"capped", 7, 10 * time.Second},
		{"large", 1000, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 100 {
				got := reconnectDelay(tt.attempts)
				if got < tt.base || got > tt.base+tt.base/4 {
					t.Fatalf("reconnectDelay(%d) = %s, want from %s to %s", tt.attempts, got, tt.base, tt.base+tt.base/4)
				}
			}
		})
	}
}

func TestReconnectLogLimitsRecords(t *testing.T) {
	logger, logs := newTestLogger()
	r := &reconnectLog{logger: logger}
	for range 3 {
		r.failed(errors.New("refused"))
	}

	if n := strings.Count(logs.String(), "nats reconnect failed"); n != 1 {
		t.Errorf("records = %d, want 1 in the first interval; log:\n%s", n, logs.String())
	}
	if failures := r.reset(); failures != 3 {
		t.Errorf("reset returned %d failures, want 3", failures)
	}
	r.failed(errors.New("refused"))
	if n := strings.Count(logs.String(), "nats reconnect failed"); n != 2 {
		t.Errorf("records = %d after reset, want 2", n)
	}
}

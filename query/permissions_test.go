package query_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/simulate"
	"github.com/clientele-xmpp/clientele/query"
)

// permissionsDoc is the document whose configuration block the test runs.
const permissionsDoc = "../ops/nats-permissions.md"

// authorizationBlock returns the conf block of the permissions document.
func authorizationBlock(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(permissionsDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```conf\n")
	block, _, closed := strings.Cut(rest, "```")
	if !ok || !closed || !strings.Contains(block, "authorization") {
		t.Fatalf("%s has no ```conf block with the authorization section", permissionsDoc)
	}
	return block
}

// startAuthorizedServer runs an in-process nats-server with JetStream and
// the documented authorization section, and returns its URL.
func startAuthorizedServer(t *testing.T) string {
	t.Helper()
	t.Setenv("CLIENTELE_NODE_PASSWORD", "node-secret")
	t.Setenv("CLIENTELE_SERVICE_PASSWORD", "service-secret")
	t.Setenv("CLIENTELE_ADMIN_PASSWORD", "admin-secret")
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(authorizationBlock(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("the documented configuration does not load: %v", err)
	}
	opts.Host, opts.Port = "127.0.0.1", -1
	opts.JetStream, opts.StoreDir = true, filepath.Join(dir, "store")
	opts.NoLog, opts.NoSigs = true, true
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
	return srv.ClientURL()
}

// roleConn is a connection of one role that records the permission
// violations that the server reports to it.
type roleConn struct {
	nc *nats.Conn
	js jetstream.JetStream

	mu         sync.Mutex
	violations []string
}

func connectRole(t *testing.T, url, user, password string, opts ...nats.Option) *roleConn {
	t.Helper()
	rc := &roleConn{}
	opts = append(opts, nats.UserInfo(user, password), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.violations = append(rc.violations, err.Error())
	}))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	rc.nc = nc
	if rc.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return rc
}

// violated waits up to two seconds for a reported permission violation
// that names subject.
func (rc *roleConn) violated(subject string) bool {
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		rc.mu.Lock()
		for _, v := range rc.violations {
			if strings.Contains(v, "Permissions Violation") && strings.Contains(v, subject) {
				rc.mu.Unlock()
				return true
			}
		}
		rc.mu.Unlock()
	}
	return false
}

func (rc *roleConn) allViolations() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.violations...)
}

// shortContext bounds a request that the server drops for lack of
// permission, which therefore gets no reply.
func shortContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	t.Cleanup(cancel)
	return ctx
}

func TestPermissionsOfThreeRoles(t *testing.T) {
	url := startAuthorizedServer(t)
	service := connectRole(t, url, "clientele", "service-secret")
	node := connectRole(t, url, "node", "node-secret", nats.CustomInboxPrefix("_INBOX_node"))
	admin := connectRole(t, url, "admin", "admin-secret")

	// The service sets up its streams, projector and endpoints.
	f := startAudit(t, service.nc, service.js, auditSetup{})

	// A node publishes events and reads its revoke commands.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := simulate.Run(ctx, node.js, simulate.Config{Users: 4, Events: 300, Seed: 61}, nil); err != nil {
		t.Fatalf("a node cannot publish its events: %v", err)
	}
	f.waitCaughtUp(t)
	user := simulatedUsers(4)[0]
	adminClient := query.NewClient(admin.nc)
	clients, err := adminClient.List(ctx, query.ListRequest{User: user})
	if err != nil || len(clients.Clients) == 0 {
		t.Fatalf("admin list of %s: %v, %d clients", user, err, len(clients.Clients))
	}
	if _, err := adminClient.Revoke(ctx, query.RevokeRequest{User: user, Selector: clients.Clients[0].ID}); err != nil {
		t.Fatalf("admin revoke: %v", err)
	}
	checkNodeReadsCommand(t, node, user)
	for _, rc := range []*roleConn{service, node, admin} {
		if v := rc.allViolations(); len(v) != 0 {
			t.Fatalf("permission violations while each role did its job: %v", v)
		}
	}

	t.Run("node denied", func(t *testing.T) { checkNodeDenied(t, node, user) })
	t.Run("service denied admin", func(t *testing.T) {
		_, err := query.NewClient(service.nc).Accounts(shortContext(t), query.AccountsRequest{Software: "Gajim"})
		if err == nil || !service.violated(query.AccountsSubject) {
			t.Errorf("the service called an admin endpoint: error %v, violations %v", err, service.allViolations())
		}
	})
	t.Run("admin allowed", func(t *testing.T) { checkAdminAllowed(t, admin, f, user) })
}

// checkNodeReadsCommand reads the revoke command of user with a durable
// consumer of the node.
func checkNodeReadsCommand(t *testing.T, node *roleConn, user string) {
	t.Helper()
	ctx := shortContext(t)
	cons, err := node.js.CreateOrUpdateConsumer(ctx, events.CommandStreamName, jetstream.ConsumerConfig{
		Durable: "node-test", FilterSubject: events.CommandSubject(user), AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatalf("a node cannot create its command consumer: %v", err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for msg := range batch.Messages() {
		n++
		if err := msg.Ack(); err != nil {
			t.Errorf("a node cannot acknowledge a command: %v", err)
		}
	}
	if n != 1 {
		t.Errorf("a node read %d revoke commands, want 1 (%v)", n, batch.Error())
	}
}

func checkNodeDenied(t *testing.T, node *roleConn, user string) {
	nodeClient := query.NewClient(node.nc)
	if _, err := nodeClient.History(shortContext(t), query.HistoryRequest{User: user}); err == nil || !node.violated(query.HistorySubject) {
		t.Errorf("a node read a history: error %v", err)
	}
	if _, err := nodeClient.List(shortContext(t), query.ListRequest{User: user}); err == nil || !node.violated(query.ListSubject) {
		t.Errorf("a node listed clients: error %v", err)
	}
	if _, err := nodeClient.Forget(shortContext(t), query.ForgetRequest{User: user}); err == nil || !node.violated(query.ForgetSubject) {
		t.Errorf("a node called forget: error %v", err)
	}
	if _, err := node.js.Stream(shortContext(t), events.StreamName); err == nil || !node.violated("$JS.API.STREAM.INFO."+events.StreamName) {
		t.Errorf("a node read the event stream's info: error %v", err)
	}
	if _, err := node.js.OrderedConsumer(shortContext(t), events.StreamName, jetstream.OrderedConsumerConfig{}); err == nil {
		t.Error("a node created a consumer on the event stream")
	}
	for _, subject := range []string{events.AllEventsSubject, "_INBOX.>"} {
		if _, err := node.nc.SubscribeSync(subject); err != nil {
			t.Fatal(err)
		}
		if !node.violated(subject) {
			t.Errorf("a node subscribed to %s", subject)
		}
	}
	tombstone := events.ForgottenSubject(events.UserKey(user))
	if err := node.nc.Publish(tombstone, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if !node.violated(tombstone) {
		t.Errorf("a node published on %s", tombstone)
	}
}

func checkAdminAllowed(t *testing.T, admin *roleConn, f *auditFixture, user string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := query.NewClient(admin.nc)
	if h, err := c.History(ctx, query.HistoryRequest{User: user}); err != nil || len(h.Entries) == 0 {
		t.Errorf("admin history: %v, %d events", err, len(h.Entries))
	}
	if _, err := c.ClientsAt(ctx, query.ClientsAtRequest{User: user, At: time.Now()}); err != nil {
		t.Errorf("admin clients --at: %v", err)
	}
	if _, err := c.Accounts(ctx, query.AccountsRequest{Software: "Conversations"}); err != nil {
		t.Errorf("admin accounts: %v", err)
	}
	report, err := query.Verify(ctx, admin.js, c, query.VerifyOptions{})
	if err != nil || len(report.Differences) != 0 {
		t.Errorf("admin rebuild --verify: %v, %+v", err, report)
	}
	victim := simulatedUsers(4)[1]
	if _, err := c.Forget(ctx, query.ForgetRequest{User: victim}); err != nil {
		t.Errorf("admin forget: %v", err)
	}
	if clients, _ := f.runner.Clients(victim); len(clients) != 0 {
		t.Errorf("%s still has clients after an admin's forget", victim)
	}
	if v := admin.allViolations(); len(v) != 0 {
		t.Errorf("the admin role hit permission violations: %v", v)
	}
}

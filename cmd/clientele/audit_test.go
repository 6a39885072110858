package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

// simulateCLI runs the README's simulate command against natsURL.
func simulateCLI(t *testing.T, vars map[string]string, users, count int) {
	t.Helper()
	code, _, stderr := runCLI(t, "", vars, "simulate", "--users", fmt.Sprint(users), "--events", fmt.Sprint(count), "--seed", "9", "--quiet")
	if code != exitOK {
		t.Fatalf("simulate exit %d: %s", code, stderr)
	}
}

// waitListed waits until the service lists a client of user.
func waitListed(t *testing.T, vars map[string]string, user string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if len(listJSON(t, vars, user)) > 0 {
			return
		}
	}
	t.Fatalf("%s has no clients after 10s", user)
}

func TestAuditCommandsOnSimulatedStream(t *testing.T) {
	natsURL, _ := startServe(t)
	vars := map[string]string{"CLIENTELE_NATS_URL": natsURL}
	simulateCLI(t, vars, 5, 600)
	user := "user1@example.test"
	waitListed(t, vars, user)

	code, stdout, stderr := runCLI(t, "", vars, "history", "--json", user)
	if code != exitOK {
		t.Fatalf("history --json exit %d: %s", code, stderr)
	}
	var h historyJSON
	if err := json.Unmarshal([]byte(stdout), &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Events) == 0 {
		t.Fatal("history --json lists no events")
	}
	for _, e := range h.Events {
		if e.User != user {
			t.Fatalf("history of %s contains an event of %s", user, e.User)
		}
	}
	first, last := h.Events[0].Time, h.Events[len(h.Events)-1].Time

	code, stdout, _ = runCLI(t, "", vars, "history", user)
	if code != exitOK || !strings.Contains(stdout, "TIME") || !strings.Contains(stdout, fmt.Sprintf("%d events of %s", len(h.Events), user)) {
		t.Errorf("history table: exit %d\n%s", code, stdout)
	}
	middle := first.Add(last.Sub(first) / 2).Format(time.RFC3339Nano)
	code, stdout, _ = runCLI(t, "", vars, "history", "--since", middle, user)
	if code != exitOK || strings.Contains(stdout, fmt.Sprintf("%d events of", len(h.Events))) {
		t.Errorf("history --since %s did not shorten the history: exit %d\n%s", middle, code, stdout)
	}

	code, stdout, stderr = runCLI(t, "", vars, "clients", "--at", middle, user)
	if code != exitOK || !strings.Contains(stdout, "as they stood at") {
		t.Errorf("clients --at: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "", vars, "diff", user, first.Format(time.RFC3339Nano), "now")
	if code != exitOK || !strings.Contains(stdout, "gained,") {
		t.Errorf("diff: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "", vars, "accounts", "--software", "Conversations")
	if code != exitOK || !strings.Contains(stdout, " of Conversations in ") {
		t.Errorf("accounts: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "", vars, "rebuild", "--verify")
	if code != exitOK || !strings.Contains(stdout, "the live view equals the replay") {
		t.Errorf("rebuild --verify on a healthy service: exit %d\n%s%s", code, stdout, stderr)
	}
	checkExport(t, vars, user, len(h.Events))
	checkForgetCLI(t, vars, user)
}

func checkExport(t *testing.T, vars map[string]string, user string, events int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "export.json")
	code, _, stderr := runCLI(t, "", vars, "export", "--output", path, user)
	if code != exitOK {
		t.Fatalf("export exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var export query.Export
	if err := json.Unmarshal(data, &export); err != nil {
		t.Fatal(err)
	}
	if export.User != user || len(export.Events) < events || len(export.Clients) == 0 {
		t.Errorf("export of %s has %d events and %d clients, want %d events or more and some clients", export.User, len(export.Events), len(export.Clients), events)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("export file mode %v (%v), want 0600", info.Mode().Perm(), err)
	}
}

func checkForgetCLI(t *testing.T, vars map[string]string, user string) {
	t.Helper()
	code, _, stderr := runCLI(t, "", vars, "forget", user)
	if code != exitUsage || !strings.Contains(stderr, "--yes") {
		t.Errorf("forget without --yes: exit %d, %s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "", vars, "forget", "--yes", user)
	if code != exitOK || !strings.HasPrefix(stdout, "forgot "+user) {
		t.Fatalf("forget: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "", vars, "history", user)
	if code != exitOK || !strings.Contains(stdout, "0 events of "+user) {
		t.Errorf("history after forget: exit %d\n%s", code, stdout)
	}
	if clients := listJSON(t, vars, user); len(clients) != 0 {
		t.Errorf("clients after forget: %+v", clients)
	}
}

// commonSoftware returns the software that the most of users have a
// client of, and in how many accounts.
func commonSoftware(t *testing.T, vars map[string]string, users int) (string, int) {
	t.Helper()
	accounts := map[string]int{}
	for i := 1; i <= users; i++ {
		seen := map[string]bool{}
		for _, c := range listJSON(t, vars, fmt.Sprintf("user%d@example.test", i)) {
			if sw := c.UserAgent.Software; sw != "" && !strings.Contains(sw, " ") && !seen[sw] {
				seen[sw] = true
				accounts[sw]++
			}
		}
	}
	best := ""
	for sw, n := range accounts {
		if n > accounts[best] || n == accounts[best] && sw < best {
			best = sw
		}
	}
	return best, accounts[best]
}

func TestRevokeSoftwareAllAccountsCLI(t *testing.T) {
	natsURL, _ := startServe(t)
	vars := map[string]string{"CLIENTELE_NATS_URL": natsURL}
	simulateCLI(t, vars, 8, 1200)
	waitListed(t, vars, "user1@example.test")
	software, n := commonSoftware(t, vars, 8)
	if n < 2 {
		t.Fatalf("no software is used by two or more of the simulated accounts")
	}

	code, dry, stderr := runCLI(t, "", vars, "revoke", "--software", software, "--all-accounts", "--dry-run")
	if code != exitOK {
		t.Fatalf("dry run: exit %d\n%s%s", code, dry, stderr)
	}
	m := regexp.MustCompile(`would revoke (\d+) clients of ` + software + ` in (\d+) accounts\n$`).FindStringSubmatch(dry)
	if m == nil || m[2] != fmt.Sprint(n) {
		t.Fatalf("dry run of %s, used in %d accounts, printed:\n%s", software, n, dry)
	}
	code, stdout, stderr := runCLI(t, "", vars, "revoke", "--software", software, "--all-accounts", "--actor", "ops")
	if code != exitOK && code != exitFailure {
		t.Fatalf("revoke --all-accounts: exit %d\n%s%s", code, stdout, stderr)
	}
	want := fmt.Sprintf("revoked %s clients of %s in %s accounts", m[1], software, m[2])
	if !strings.Contains(stdout, want) {
		t.Errorf("revoke --all-accounts output lacks %q:\n%s", want, stdout)
	}
	if code == exitFailure && !strings.Contains(stderr, "change the passwords of") {
		t.Errorf("revoke --all-accounts exit 1 without a password note: %s", stderr)
	}
}

func TestRebuildVerifyNamesCorruptedClient(t *testing.T) {
	url, js := startNATS(t)
	vars := map[string]string{"CLIENTELE_NATS_URL": url}
	simulateCLI(t, vars, 4, 500)
	user, victim := writeCorruptedSnapshot(t, js)
	// serve connects to url; the embedded address it returns stays unused.
	startServe(t, "--nats-url", url)

	code, stdout, stderr := runCLI(t, "", vars, "rebuild", "--verify")
	if code != exitFailure {
		t.Fatalf("rebuild --verify on a corrupted view: exit %d, want %d\n%s%s", code, exitFailure, stdout, stderr)
	}
	if !strings.Contains(stdout, user+" "+victim+": user_agent: live ") || !strings.Contains(stdout, "1 client differ") {
		t.Errorf("rebuild --verify does not name %s of %s:\n%s\n%s", victim, user, stdout, stderr)
	}
}

// writeCorruptedSnapshot stores a snapshot of the whole stream in which one
// client of user1 shows software that no event named, and returns the
// account and the client's listing id.
func writeCorruptedSnapshot(t *testing.T, js jetstream.JetStream) (string, string) {
	t.Helper()
	ctx := context.Background()
	stream, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}

	state := projector.NewState()
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		if e, err := events.Decode(msg.Data); err == nil {
			_ = state.Apply(e)
		}
	}

	const user = "user1@example.test"
	// A client.revoked event that targets no listed client but names the
	// victim's client id changes only the user agent of the victim's
	// listing, to software that no stored event named.
	opt := projector.ViewOptions{Now: time.Now()}
	var victim, clientID string
	for _, c := range state.Clients(user, opt) {
		if ts := state.Resolve(user, c.ID, opt); len(ts) == 1 && ts[0].ClientID != "" {
			victim, clientID = c.ID, ts[0].ClientID
			break
		}
	}
	if victim == "" {
		t.Fatalf("%s has no listed client with a client id", user)
	}
	tamper := &events.Event{
		ID: "tampered", Type: events.ClientRevoked, V: events.Version, Time: time.Now().Add(24 * time.Hour), Node: "tamper",
		User: user, Target: "client/none", Client: &events.Client{ID: clientID, Software: "Tampered"},
	}
	if err := state.Apply(tamper); err != nil {
		t.Fatal(err)
	}
	data, err := projector.EncodeSnapshot(state, info.State.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	store, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "clientele-snapshots"})
	if err != nil {
		t.Fatal(err)
	}
	// The bucket and object name that projector.Runner uses by default.
	if _, err := store.PutBytes(ctx, "state", data); err != nil {
		t.Fatal(err)
	}
	return user, victim
}

func TestAuditCommandsRejectBadInput(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"at not a time", []string{"clients", "--at", "yesterday", "a@example.test"}, exitUsage, `invalid time "yesterday" for --at`},
		{"since without sign", []string{"history", "--since", "2h", "a@example.test"}, exitUsage, "needs a minus sign"},
		{"diff bad T1", []string{"diff", "a@example.test", "noon", "now"}, exitFailure, `invalid time "noon" for T1`},
		{"rebuild without verify", []string{"rebuild"}, exitUsage, "pass --verify"},
		{"all accounts without software", []string{"revoke", "--all-accounts"}, exitUsage, "--all-accounts needs --software"},
		{"dry run without all accounts", []string{"revoke", "--dry-run", "a@example.test", "client/x"}, exitUsage, "--dry-run works only with --all-accounts"},
		{"all except without user", []string{"revoke", "--all-except", "client/x"}, exitUsage, "--all-except ID takes exactly one USER"},
		{"accounts without software", []string{"accounts"}, exitFailure, "invalid --software"},
		{"forget without yes", []string{"forget", "a@example.test"}, exitUsage, "run it again with --yes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", nil, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.contains) {
				t.Errorf("exit %d, want %d; stderr %q lacks %q", code, tc.code, stderr, tc.contains)
			}
		})
	}
}

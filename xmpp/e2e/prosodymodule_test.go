package e2e

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
)

const aliceJID = "alice@example.test"

// TestModuleSessionsAndRevoke follows two legacy clients of alice through
// Prosody into clientele: both listed, one logging out, and alice revoking
// the other, which Prosody disconnects.
func TestModuleSessionsAndRevoke(t *testing.T) {
	n := startNode(t, Options{})
	ctx := testContext(t)
	alice := n.p.User("alice")

	laptop := StartClient(t, ctx, withResource(alice, "laptop"))
	n.waitConnected(aliceJID, "r:laptop", true)
	listedAt := time.Now()
	// The bind's own time, from Prosody's clock on this machine, starts
	// the measurement.
	var boundAt time.Time
	for _, e := range n.userEvents(aliceJID) {
		if e.Type == events.SessionBound && e.Session.Resource == "laptop" {
			boundAt = e.Time
		}
	}
	if took := listedAt.Sub(boundAt); took > time.Second {
		t.Errorf("laptop listed %v after its resource bind, want within a second", took)
	}
	phone := StartClient(t, ctx, withResource(alice, "phone"))
	n.waitConnected(aliceJID, "r:phone", true)

	laptopID, phoneID := projector.ListingID(aliceJID, "r:laptop"), projector.ListingID(aliceJID, "r:phone")
	var list Outcome
	waitFor(t, 15*time.Second, func() (bool, string) {
		list = phone.Do(ctx, List(NSManageClients, ""))[0]
		return list.OK(), list.String()
	})
	for _, id := range []string{laptopID, phoneID} {
		c := listedClient(t, list, id)
		if c.Connected != "true" || !slices.Equal(authNames(c, NSManageClients), []string{"password"}) {
			t.Errorf("%s: connected=%s auth=%v, want true and <password/>", id, c.Connected, authNames(c, NSManageClients))
		}
		if !hasLegacyMark(c) {
			t.Errorf("%s: no <legacy xmlns=%q/> for a client without a client id: %+v", id, NSLegacy, c.Other)
		}
	}

	laptop.Close()
	waitFor(t, 15*time.Second, func() (bool, string) {
		list = phone.Do(ctx, List(NSManageClients, ""))[0]
		c := listedClient(t, list, laptopID)
		return c.Connected == "false", "laptop after logout: connected=" + c.Connected
	})

	revoke := RunClient(t, ctx, withResource(alice, "desk"), Revoke(NSManageClients, "", phoneID))[0]
	requireStanzaError(t, revoke, "cancel", "service-unavailable")
	if revoke.StanzaError.AppName != "password-reset-required" {
		t.Errorf("revoke of the phone: application condition %q, want password-reset-required", revoke.StanzaError.AppName)
	}
	end, err := phone.WaitDisconnect(shortContext(t, ctx))
	if err != nil {
		t.Fatal(err)
	}
	if end.By != "server" || end.StreamError != "not-authorized" {
		t.Errorf("phone disconnect = %+v, want the server to end it with not-authorized", end)
	}
	n.waitConnected(aliceJID, "r:phone", false)

	evs := n.userEvents(aliceJID)
	phoneSession := sessionOf(t, evs, "phone")
	for _, e := range evs {
		if e.Type == events.SessionUnbound && e.Session.ID == phoneSession && e.Reason != "revoked" {
			t.Errorf("phone's session.unbound has reason %q, want revoked", e.Reason)
		}
	}
	if got := countBySession(evs, phoneSession)[events.SessionUnbound]; got != 1 {
		t.Errorf("phone's session has %d session.unbound events, want 1", got)
	}
}

// TestModuleCrashEndsSessions kills Prosody: after its restart, the new
// boot ends the sessions of the killed one in the view.
func TestModuleCrashEndsSessions(t *testing.T) {
	n := startNode(t, Options{})
	ctx := testContext(t)
	laptop := StartClient(t, ctx, withResource(n.p.User("alice"), "laptop"))
	n.waitConnected(aliceJID, "r:laptop", true)

	n.p.Kill()
	if _, err := laptop.WaitDisconnect(shortContext(t, ctx)); err != nil {
		t.Fatal(err)
	}
	// The node's heartbeats stop, but the heartbeat timeout is minutes
	// away: only the new boot can end the session this soon.
	if c, _ := n.client(aliceJID, "r:laptop"); !c.Connected {
		t.Fatalf("laptop shown ended before the restart, so the restart would prove nothing: %+v", c)
	}
	n.p.Start()
	boots := n.waitBoots(2)
	c := n.waitConnected(aliceJID, "r:laptop", false)
	if !c.HasAuth(projector.AuthPassword) {
		t.Errorf("laptop after the crash: auth %v, want password access to remain", c.Auth)
	}
	if boots[0].Boot == boots[1].Boot {
		t.Errorf("restart reused boot id %s", boots[0].Boot)
	}
}

// TestModuleOutageLosesNothing makes clientele unreachable while users log
// in and out, first stopped and then paused, so that requests time out after
// clientele may have read them. Once clientele is back, every event is
// stored once.
func TestModuleOutageLosesNothing(t *testing.T) {
	n := startNode(t, Options{}, "clientele_request_timeout = 1")
	ctx := testContext(t)
	alice, bob := n.p.User("alice"), n.p.User("bob")

	n.s.stop()
	for _, spec := range []ClientSpec{withResource(alice, "a1"), withResource(bob, "b1"), withResource(alice, "a2")} {
		RunClient(t, ctx, spec)
	}
	longSession := StartClient(t, ctx, withResource(alice, "a3"))
	n.waitLog("connection refused", 1)
	n.s.start()
	n.waitConnected(aliceJID, "r:a3", true)

	timeouts := strings.Count(n.p.Log(), "timed out after")
	n.s.pause()
	RunClient(t, ctx, withResource(alice, "a4"))
	longSession.Close()
	n.waitLog("timed out after", timeouts+2)
	n.s.resume()
	n.waitConnected(aliceJID, "r:a3", false)
	n.waitConnected(aliceJID, "r:a4", false)

	requireUniqueIDs(t, n.events(events.AllEventsSubject))
	cases := []struct {
		user, resource string
	}{
		{aliceJID, "a1"}, {"bob@example.test", "b1"}, {aliceJID, "a2"}, {aliceJID, "a3"}, {aliceJID, "a4"},
	}
	for _, tc := range cases {
		t.Run(tc.resource, func(t *testing.T) {
			evs := n.userEvents(tc.user)
			id := sessionOf(t, evs, tc.resource)
			counts := countBySession(evs, id)
			for _, typ := range []events.Type{events.AuthPassword, events.SessionBound, events.SessionUnbound} {
				if counts[typ] != 1 {
					t.Errorf("session %s of %s: %d %s events, want 1 (%s)", id, tc.resource, counts[typ], typ, describeCounts(counts))
				}
			}
		})
	}
	if starts := n.waitBoots(1); len(starts) != 1 {
		t.Errorf("node.started events: %d, want 1", len(starts))
	}
}

// TestModuleRestartKeepsQueue stops Prosody while clientele is down: the
// events it could not send survive in its state file and arrive after its
// next start.
func TestModuleRestartKeepsQueue(t *testing.T) {
	n := startNode(t, Options{})
	ctx := testContext(t)

	n.s.stop()
	RunClient(t, ctx, withResource(n.p.User("alice"), "before-stop"))
	n.p.Stop()
	n.s.start()
	n.p.Start()

	n.waitBoots(2)
	waitFor(t, 15*time.Second, func() (bool, string) {
		evs := n.userEvents(aliceJID)
		return len(evs) >= 3, "alice's events after the restart: " + describeTypes(evs)
	})
	evs := n.userEvents(aliceJID)
	counts := countBySession(evs, sessionOf(t, evs, "before-stop"))
	for _, typ := range []events.Type{events.AuthPassword, events.SessionBound, events.SessionUnbound} {
		if counts[typ] != 1 {
			t.Errorf("%d %s events of the session before the stop, want 1 (%s)", counts[typ], typ, describeCounts(counts))
		}
	}
	stops := n.events(events.NodeSubjectPrefix + "." + n.p.NodeID + "." + string(events.NodeStopped))
	if len(stops) != 1 {
		t.Errorf("%d node.stopped events, want the one of the first run", len(stops))
	}
	requireUniqueIDs(t, n.events(events.AllEventsSubject))
}

// TestModuleQueueOverflowResync overflows the module's queue while
// clientele is down: the module drops events, and once clientele is back
// it starts a new boot and reports the live sessions again.
func TestModuleQueueOverflowResync(t *testing.T) {
	n := startNode(t, Options{}, "clientele_queue_size = 6")
	ctx := testContext(t)
	alice := n.p.User("alice")
	longSession := StartClient(t, ctx, withResource(alice, "kept"))
	n.waitConnected(aliceJID, "r:kept", true)

	n.s.stop()
	for _, resource := range []string{"a1", "a2", "a3"} {
		RunClient(t, ctx, withResource(alice, resource))
	}
	n.waitLog("Event queue full", 1)
	n.s.start()

	n.waitBoots(2)
	// The new boot ends the sessions of the first one; only the resent
	// session.bound shows the kept session as connected again.
	n.waitConnected(aliceJID, "r:kept", true)
	bound := 0
	for _, e := range n.userEvents(aliceJID) {
		if e.Type == events.SessionBound && e.Session.Resource == "kept" {
			bound++
		}
	}
	if bound != 2 {
		t.Errorf("kept session bound %d times, want 2: at login and after the resync", bound)
	}
	sent := 0
	for _, e := range n.userEvents(aliceJID) {
		if e.Session != nil && e.Session.Resource != "kept" && e.Type != events.AuthPassword {
			sent++
		}
	}
	if sent >= 6 {
		t.Errorf("%d bind and unbind events of a1 to a3 stored, want fewer than 6 after the overflow", sent)
	}
	longSession.Close()
	n.waitConnected(aliceJID, "r:kept", false)
}

func describeTypes(evs []*events.Event) string {
	var parts []string
	for _, e := range evs {
		parts = append(parts, string(e.Type))
	}
	return strings.Join(parts, ", ")
}

// TestModuleEnforceClientIDs switches enforce_client_ids on and off at
// clientele and logs in with and without a SASL2 client id.
func TestModuleEnforceClientIDs(t *testing.T) {
	n := startNode(t, Options{Modules: []string{"sasl2"}})
	ctx := testContext(t)
	alice := n.p.User("alice")
	login := sasl2Login{Addr: n.p.C2SAddr, Domain: n.p.Domain, User: "alice", Password: alice.Password}

	n.clientele("settings", "set", "enforce_client_ids", "true")
	n.waitLog("enforce_client_ids is on", 1)

	tr, err := ExecClient(ctx, withResource(alice, "old"))
	if err != nil {
		t.Fatal(err)
	}
	if !tr.LoginFailed() {
		t.Errorf("legacy login with enforce_client_ids on: %s, want it rejected", describeEvents(tr.Events))
	}
	if _, err := sasl2Connect(t, login); !errors.Is(err, errSASL2Rejected) {
		t.Errorf("SASL2 login without a client id = %v, want it rejected", err)
	}
	withID := login
	withID.ClientID, withID.Software = "4b8c1e0e-e2e0-4c55-9d63-3d0f0c1d2a11", "RawTest"
	c, err := sasl2Connect(t, withID)
	if err != nil {
		t.Fatalf("SASL2 login with a client id while enforcing: %v", err)
	}
	c.bind("modern")
	modern := n.waitConnected(aliceJID, "c:"+withID.ClientID, true)
	if modern.Legacy || modern.UserAgent.Software != "RawTest" {
		t.Errorf("SASL2 client listed as %+v, want not legacy with software RawTest", modern)
	}

	n.clientele("settings", "set", "enforce_client_ids", "false")
	n.waitLog("enforce_client_ids is off", 2)
	old := StartClient(t, ctx, withResource(alice, "old"))
	n.waitConnected(aliceJID, "r:old", true)
	out := old.Do(ctx, List(NSCAM, ""))[0]
	entry := listedClient(t, out, projector.ListingID(aliceJID, "r:old"))
	if !hasLegacyMark(entry) {
		t.Errorf("legacy client in the XMPP list without <legacy/>: %+v", entry)
	}
	if self := listedClient(t, out, modern.ID); hasLegacyMark(self) {
		t.Errorf("SASL2 client in the XMPP list with <legacy/>: %+v", self)
	}
	table := n.clientele("clients", aliceJID)
	if !strings.Contains(lineWith(table, projector.ListingID(aliceJID, "r:old")), "session,legacy") {
		t.Errorf("clients does not mark the legacy client:\n%s", table)
	}
	if strings.Contains(lineWith(table, modern.ID), "legacy") {
		t.Errorf("clients marks the SASL2 client as legacy:\n%s", table)
	}
}

// lineWith returns the first line of text that contains s, or "".
func lineWith(text, s string) string {
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}

// TestModuleSASL2Hibernation follows a SASL2 client with a client id
// through stream management hibernation and resumption, and a revoke by
// its listing id.
func TestModuleSASL2Hibernation(t *testing.T) {
	n := startNode(t, Options{Modules: []string{"sasl2", "smacks"}})
	ctx := testContext(t)
	alice := n.p.User("alice")
	login := sasl2Login{
		Addr: n.p.C2SAddr, Domain: n.p.Domain, User: "alice", Password: alice.Password,
		ClientID: "9f1d2c3b-e2e0-4a5b-8c7d-112233445566", Software: "RawTest", Device: "lab",
	}
	key := "c:" + login.ClientID

	first, err := sasl2Connect(t, login)
	if err != nil {
		t.Fatal(err)
	}
	first.bind("raw")
	first.enableSM()
	listed := n.waitConnected(aliceJID, key, true)
	if listed.Legacy || listed.UserAgent.Device != "lab" {
		t.Errorf("SASL2 client listed as %+v, want device lab and not legacy", listed)
	}

	first.drop()
	session := sessionOf(t, n.userEvents(aliceJID), "raw")
	waitFor(t, 15*time.Second, func() (bool, string) {
		counts := countBySession(n.userEvents(aliceJID), session)
		return counts[events.SessionHibernated] == 1, "events of the dropped session: " + describeCounts(counts)
	})
	if c, _ := n.client(aliceJID, key); !c.Connected {
		t.Errorf("hibernated client listed as not connected: %+v", c)
	}

	second, err := sasl2Connect(t, login)
	if err != nil {
		t.Fatal(err)
	}
	second.resume(first.ResumeID)
	waitFor(t, 15*time.Second, func() (bool, string) {
		counts := countBySession(n.userEvents(aliceJID), session)
		return counts[events.SessionResumed] == 1, "events after the resumption: " + describeCounts(counts)
	})

	revoke := RunClient(t, ctx, withResource(alice, "desk"), Revoke(NSCAM, "", listed.ID))[0]
	requireStanzaError(t, revoke, "cancel", "service-unavailable")
	condition, err := second.waitClosed()
	if err != nil {
		t.Fatal(err)
	}
	if condition != "not-authorized" {
		t.Errorf("resumed session ended with stream error %q, want not-authorized", condition)
	}
	n.waitConnected(aliceJID, key, false)
	counts := countBySession(n.userEvents(aliceJID), session)
	if counts[events.SessionUnbound] != 1 || counts[events.SessionBound] != 1 {
		t.Errorf("events of the revoked session: %s, want one bound and one unbound", describeCounts(counts))
	}

	// A revoke also ends a session while it hibernates.
	sleeper := login
	sleeper.ClientID = "0c1d2e3f-e2e0-4b5a-9c8d-665544332211"
	third, err := sasl2Connect(t, sleeper)
	if err != nil {
		t.Fatal(err)
	}
	third.bind("sleeper")
	third.enableSM()
	asleep := n.waitConnected(aliceJID, "c:"+sleeper.ClientID, true)
	third.drop()
	sleeping := sessionOf(t, n.userEvents(aliceJID), "sleeper")
	waitFor(t, 15*time.Second, func() (bool, string) {
		counts := countBySession(n.userEvents(aliceJID), sleeping)
		return counts[events.SessionHibernated] == 1, "events of the sleeping session: " + describeCounts(counts)
	})
	RunClient(t, ctx, withResource(alice, "desk"), Revoke(NSCAM, "", asleep.ID))
	n.waitConnected(aliceJID, "c:"+sleeper.ClientID, false)
	var reason string
	for _, e := range n.userEvents(aliceJID) {
		if e.Type == events.SessionUnbound && e.Session.ID == sleeping {
			reason = e.Reason
		}
	}
	if reason != "revoked" {
		t.Errorf("hibernated session's session.unbound reason = %q, want revoked", reason)
	}
}

func describeCounts(counts map[events.Type]int) string {
	var parts []string
	for typ, n := range counts {
		parts = append(parts, fmt.Sprintf("%s=%d", typ, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

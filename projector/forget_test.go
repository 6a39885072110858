package projector

import (
	"testing"

	"github.com/clientele-xmpp/clientele/events"
)

// forgotten returns the tombstone of user at the given minute.
func forgotten(user string, minute int) *events.Event {
	e := testEvent(events.AccountForgotten, minute, onNode("clientele"))
	e.User, e.UserKey, e.Actor = "", events.UserKey(user), "admin"
	return e
}

// forgetHistory gives alice and bob a bound session each on node1.
func forgetHistory() []*events.Event {
	return []*events.Event{
		testEvent(events.AuthPassword, 1, withClient(gajimNew), withSession("s1", "")),
		testEvent(events.SessionBound, 2, withSession("s1", "gajim.A")),
		testEvent(events.AuthPassword, 3, forUser(bob), withClient(dino), withSession("s2", "")),
		testEvent(events.SessionBound, 4, forUser(bob), withSession("s2", "dino.B")),
	}
}

func TestForgetDropsOnlyThatAccount(t *testing.T) {
	s := foldEvents(t, forgetHistory())
	bobBefore := s.Clients(bob, defaultView)
	nodeBefore := toJSON(s.Nodes[node1])

	if err := s.Apply(forgotten(alice, 5)); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Users[alice]; ok {
		t.Error("alice is still in the state")
	}
	if got := s.Clients(alice, defaultView); len(got) != 0 {
		t.Errorf("alice still lists %s", toJSON(got))
	}
	checkViews(t, s.Clients(bob, defaultView), bobBefore)
	if got := toJSON(s.Nodes[node1]); got != nodeBefore {
		t.Errorf("node %s changed from %s to %s", node1, nodeBefore, got)
	}
}

func TestForgetThenLaterEvents(t *testing.T) {
	later := testEvent(events.AuthPassword, 10, withClient(dino), withSession("s3", ""))
	s := foldEvents(t, append(forgetHistory(), forgotten(alice, 5), later))
	got := s.Clients(alice, defaultView)
	if len(got) != 1 || got[0].UserAgent.Software != dino.Software || !got[0].FirstSeen.Equal(atMinute(10)) {
		t.Errorf("after forget and a new login alice lists %s, want only the new Dino client first seen at minute 10", toJSON(got))
	}
}

func TestForgetTwiceAndUnknown(t *testing.T) {
	tombstone := forgotten(alice, 5)
	once := foldEvents(t, append(forgetHistory(), tombstone))
	twice := foldEvents(t, append(forgetHistory(), tombstone, tombstone))
	if toJSON(once) != toJSON(twice) {
		t.Errorf("a repeated tombstone changed the state\nonce:  %s\ntwice: %s", toJSON(once), toJSON(twice))
	}
	s := foldEvents(t, forgetHistory())
	if n := s.Forget(events.UserKey("carol@example.test")); n != 0 {
		t.Errorf("Forget(unknown account) dropped %d accounts", n)
	}
	if n := s.Forget(events.UserKey(alice)); n != 1 {
		t.Errorf("Forget(alice) dropped %d accounts, want 1", n)
	}
}

func TestSnapshotAfterForget(t *testing.T) {
	s := foldEvents(t, append(forgetHistory(), forgotten(alice, 5)))
	data, err := EncodeSnapshot(s, 5)
	if err != nil {
		t.Fatal(err)
	}
	restored, _, err := DecodeSnapshot(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := restored.Users[alice]; ok {
		t.Error("the snapshot contains alice")
	}
	if _, ok := restored.Users[bob]; !ok {
		t.Error("the snapshot lost bob")
	}
}

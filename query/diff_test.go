package query_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

func TestCompareViews(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	client := func(id string, auth ...string) projector.ClientView {
		return projector.ClientView{ID: id, Type: projector.TypeSession, FirstSeen: t0, LastSeen: t0, Auth: auth, Permission: "unrestricted"}
	}
	seenLater := client("client/b", "password")
	seenLater.LastSeen = t0.Add(time.Hour)
	connected := client("client/c", "fast")
	connected.Connected = true

	cases := []struct {
		name          string
		before, after []projector.ClientView
		added         []string
		changed       map[string][]string
		removed       []string
	}{
		{"same", []projector.ClientView{client("client/a", "fast")}, []projector.ClientView{client("client/a", "fast")}, nil, nil, nil},
		{"added", nil, []projector.ClientView{client("client/a", "fast")}, []string{"client/a"}, nil, nil},
		{"removed", []projector.ClientView{client("client/a", "fast")}, nil, nil, nil, []string{"client/a"}},
		{"auth changed", []projector.ClientView{client("client/a", "password", "fast")}, []projector.ClientView{client("client/a", "password")}, nil, map[string][]string{"client/a": {"auth"}}, nil},
		{"only last seen", []projector.ClientView{client("client/b", "password")}, []projector.ClientView{seenLater}, nil, nil, nil},
		{"connected", []projector.ClientView{client("client/c", "fast")}, []projector.ClientView{connected}, nil, map[string][]string{"client/c": {"connected"}}, nil},
		{"all three", []projector.ClientView{client("client/a", "fast"), client("client/c", "fast")},
			[]projector.ClientView{connected, client("client/d", "grant")},
			[]string{"client/d"}, map[string][]string{"client/c": {"connected"}}, []string{"client/a"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := query.CompareViews(tc.before, tc.after)
			if got := ids(d.Added); !reflect.DeepEqual(got, tc.added) {
				t.Errorf("added = %v, want %v", got, tc.added)
			}
			if got := ids(d.Removed); !reflect.DeepEqual(got, tc.removed) {
				t.Errorf("removed = %v, want %v", got, tc.removed)
			}
			var changed map[string][]string
			for _, c := range d.Changed {
				if changed == nil {
					changed = map[string][]string{}
				}
				changed[c.ID] = c.Fields
			}
			if !reflect.DeepEqual(changed, tc.changed) {
				t.Errorf("changed = %v, want %v", changed, tc.changed)
			}
		})
	}
}

func ids(views []projector.ClientView) []string {
	var out []string
	for _, v := range views {
		out = append(out, v.ID)
	}
	return out
}

package projector

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/clientele-xmpp/clientele/events"
)

// TestApplyCopiesSharedEvents folds histories decoded with one reused
// events.Decoded, whose strings point into the payloads, and overwrites
// each payload after its event was applied. The state must equal the fold
// of the same events decoded into events of their own, so the fold keeps no
// string and no object of an event.
func TestApplyCopiesSharedEvents(t *testing.T) {
	for seed := range uint64(20) {
		history := generateHistory(seed)
		want := NewState()
		got := NewState()
		var d events.Decoded
		for _, e := range history {
			payload, err := events.Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			if err := want.Apply(e); err != nil {
				t.Fatalf("seed %d: Apply(%s %s): %v", seed, e.Type, e.ID, err)
			}
			if err := d.Decode(payload); err != nil {
				t.Fatalf("seed %d: decode %s: %v", seed, payload, err)
			}
			if err := got.Apply(&d.Event); err != nil {
				t.Fatalf("seed %d: Apply(%s %s) of the shared event: %v", seed, e.Type, e.ID, err)
			}
			copy(payload, bytes.Repeat([]byte{'#'}, len(payload)))
		}
		now := history[len(history)-1].Time
		for _, user := range propertyUsers {
			opt := ViewOptions{Now: now}
			if g, w := got.Clients(user, opt), want.Clients(user, opt); !reflect.DeepEqual(g, w) {
				t.Fatalf("seed %d: clients of %s\ngot  %+v\nwant %+v", seed, user, g, w)
			}
		}
		if !reflect.DeepEqual(got.Nodes, want.Nodes) {
			t.Fatalf("seed %d: nodes\ngot  %+v\nwant %+v", seed, got.Nodes, want.Nodes)
		}
		for user := range want.Users {
			if _, ok := got.Users[user]; !ok {
				t.Fatalf("seed %d: account %s missing; accounts %v", seed, user, keys(got.Users))
			}
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

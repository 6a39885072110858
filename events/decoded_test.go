package events_test

import (
	"reflect"
	"testing"

	"github.com/clientele-xmpp/clientele/events"
)

// decodedInputs returns events of the simulator followed by input that
// takes the slow path or fails, so that one Decoded meets every kind in
// turn.
func decodedInputs(t *testing.T) [][]byte {
	t.Helper()
	inputs := benchCorpus(t, 200)
	const head = `{"id":"x1","type":"auth.password","v":1,"time":"2026-12-04T10:00:00Z","node":"n","user":"a@b.test"`
	for _, s := range []string{
		head + `,"session":{"id":"s"},"reason":"tab\tquote\" \u00e9"}`,
		head + `,"session":{"id":"s"},"reason":"\ud83d\ude00"}`,
		head + `,"session":{"id":"s"},"client":null}`,
		head + `,"colour":"blue"}`,
		head + `,"session":{"id":"s"},"reason":"\ud83d"}`,
		head + `}`,
		`{"id":"x2","type":"node.started","v":1,"time":"2026-12-04T10:00:00Z","node":"n","boot":"b"}`,
		`{"id":1}`,
		`[1,2]`,
		"{\"id\":\"\xff\"}",
	} {
		inputs = append(inputs, []byte(s))
	}
	return inputs
}

func TestDecodedMatchesDecode(t *testing.T) {
	var d events.Decoded
	for i, data := range decodedInputs(t) {
		want, wantErr := events.Decode(data)
		gotErr := d.Decode(data)
		if (gotErr == nil) != (wantErr == nil) || (wantErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("input %d %s: Decoded.Decode error = %v, Decode error = %v", i, data, gotErr, wantErr)
		}
		if want != nil && !reflect.DeepEqual(d.Event, *want) {
			t.Fatalf("input %d %s:\nDecoded.Decode = %+v\nDecode         = %+v", i, data, d.Event, *want)
		}
	}
}

// TestDecodedDropsNestedObjects checks that an object of an earlier event
// does not show through in a later event without it.
func TestDecodedDropsNestedObjects(t *testing.T) {
	var d events.Decoded
	full := []byte(`{"id":"a","type":"fast.minted","v":1,"time":"2026-12-04T10:00:00Z","node":"n","user":"a@b.test","client":{"id":"c"},"session":{"id":"s"},"fast":{"fingerprint":"sha256:x"}}`)
	bare := []byte(`{"id":"b","type":"password.changed","v":1,"time":"2026-12-04T10:00:00Z","node":"n","user":"a@b.test"}`)
	if err := d.Decode(full); err != nil {
		t.Fatal(err)
	}
	if err := d.Decode(bare); err != nil {
		t.Fatal(err)
	}
	if d.Event.Client != nil || d.Event.Session != nil || d.Event.Fast != nil || d.Event.Grant != nil {
		t.Errorf("after an event without bodies, Decoded has %+v", d.Event)
	}
}

func TestDecodedDoesNotAllocate(t *testing.T) {
	corpus := benchCorpus(t, 64)
	var d events.Decoded
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		if err := d.Decode(corpus[i%len(corpus)]); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if allocs != 0 {
		t.Errorf("Decoded.Decode of simulated events allocates %.1f times per event, want 0", allocs)
	}
}

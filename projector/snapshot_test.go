package projector_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
)

func gzipped(t *testing.T, data string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// badSnapshots returns stored snapshots that must never be loaded: torn
// writes, bit flips, and gzip streams that decompress to something other
// than a complete snapshot. valid is a correct snapshot to damage.
func badSnapshots(t *testing.T, valid []byte) []struct {
	name string
	data []byte
} {
	flipped := bytes.Clone(valid)
	flipped[len(flipped)/2] ^= 0x40
	return []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"truncated to half", valid[:len(valid)/2]},
		{"truncated end", valid[:len(valid)-4]},
		{"flipped byte", flipped},
		{"not compressed", []byte(`{"format":1,"seq":5,"state":{}}`)},
		{"S2 of text", compressed(t, "not a snapshot")},
		{"gzip of text", gzipped(t, "not a snapshot")},
		{"gzip of truncated JSON", gzipped(t, `{"format":1,"seq":5,"state":{"users":{`)},
		{"gzip of JSON array", gzipped(t, `[1,2,3]`)},
		{"unknown format", gzipped(t, `{"format":99,"seq":5,"state":{}}`)},
		{"missing state", gzipped(t, `{"format":1,"seq":5}`)},
		{"null account", gzipped(t, `{"format":1,"seq":5,"state":{"users":{"user0@example.test":null}}}`)},
		{"null session", gzipped(t, `{"format":1,"seq":5,"state":{"users":{"user0@example.test":{"sessions":{"xmpp-1/s1":null}}}}}`)},
		{"null client", gzipped(t, `{"format":1,"seq":5,"state":{"users":{"user0@example.test":{"clients":{"c:client-1":null}}}}}`)},
		{"null grant", gzipped(t, `{"format":1,"seq":5,"state":{"users":{"user0@example.test":{"grants":{"g1":null}}}}}`)},
		{"null fast token", gzipped(t, `{"format":1,"seq":5,"state":{"users":{"user0@example.test":{"fast":{"sha256:x":null}}}}}`)},
		{"null node", gzipped(t, `{"format":1,"seq":5,"state":{"nodes":{"xmpp-1":null}}}`)},
		{"wrong field types", gzipped(t, `{"format":1,"seq":"five","state":{"users":[]}}`)},
	}
}

func TestDecodeSnapshotRejectsDamage(t *testing.T) {
	valid, err := projector.EncodeSnapshot(foldHistory(t, history(5, 4, 200)), 200)
	if err != nil {
		t.Fatal(err)
	}
	if _, seq, err := projector.DecodeSnapshot(valid); err != nil || seq != 200 {
		t.Fatalf("DecodeSnapshot of a valid snapshot = seq %d, %v; want 200, nil", seq, err)
	}
	for _, tc := range badSnapshots(t, valid) {
		t.Run(tc.name, func(t *testing.T) {
			state, _, err := projector.DecodeSnapshot(tc.data)
			if !errors.Is(err, projector.ErrSnapshotInvalid) {
				t.Errorf("DecodeSnapshot = %v, want ErrSnapshotInvalid", err)
			}
			if state != nil {
				t.Errorf("DecodeSnapshot returned a state with its error")
			}
		})
	}
}

// TestRunnerSkipsDamagedSnapshot stores each damaged snapshot where a
// Runner looks for it, and checks that the Runner replays the whole stream
// instead: it applies every event, counts the failed load, and its views
// equal those of a Runner without a snapshot.
func TestRunnerSkipsDamagedSnapshot(t *testing.T) {
	const users = 4
	evs := history(6, users, 150)
	p := newPipeline(t)
	seq := p.publishAll(t, evs)
	fresh, _ := startRunner(t, p.js, "snap-fresh", nil)
	waitApplied(t, fresh, seq)
	want := viewsJSON(t, fresh, users)

	valid, err := projector.EncodeSnapshot(foldHistory(t, evs[:100]), 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range badSnapshots(t, valid) {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			bucket := "snap-damaged"
			store, err := p.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: bucket})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := store.PutBytes(ctx, "state", tc.data); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.js.DeleteObjectStore(ctx, bucket) })

			reg := prometheus.NewRegistry()
			r, stop := startRunner(t, p.js, bucket, projector.NewMetrics(reg))
			waitApplied(t, r, seq)
			got := viewsJSON(t, r, users)
			stop()

			if applied := testutil.ToFloat64(mustCounter(t, reg, "clientele_events_applied_total")); applied != float64(len(evs)) {
				t.Errorf("Runner applied %v events, want all %d: the damaged snapshot was loaded", applied, len(evs))
			}
			if failures := testutil.ToFloat64(mustCounter(t, reg, "clientele_snapshot_failures_total")); failures < 1 {
				t.Errorf("snapshot failures = %v, want the damaged snapshot counted", failures)
			}
			if got != want {
				t.Errorf("views after a damaged snapshot differ from a full replay\ngot:  %s\nwant: %s", got, want)
			}
		})
	}
}

func foldHistory(t *testing.T, evs []*events.Event) *projector.State {
	t.Helper()
	s := projector.NewState()
	for _, e := range evs {
		if err := s.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// decompress returns the body of a stored snapshot.
func decompress(tb testing.TB, data []byte) []byte {
	tb.Helper()
	body, err := io.ReadAll(s2.NewReader(bytes.NewReader(data)))
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// compressed returns data compressed as a stored snapshot is.
func compressed(tb testing.TB, data string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := s2.NewWriter(&buf)
	if _, err := zw.Write([]byte(data)); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestDecodeSnapshotReadsGzip loads a snapshot compressed with gzip, as
// earlier versions stored them.
func TestDecodeSnapshotReadsGzip(t *testing.T) {
	want := foldHistory(t, history(6, 4, 200))
	data, err := projector.EncodeSnapshot(want, 200)
	if err != nil {
		t.Fatal(err)
	}
	got, seq, err := projector.DecodeSnapshot(gzipped(t, string(decompress(t, data))))
	if err != nil {
		t.Fatalf("DecodeSnapshot of a gzip snapshot = %v", err)
	}
	if seq != 200 {
		t.Errorf("sequence = %d, want 200", seq)
	}
	opts := projector.ViewOptions{Now: base.Add(time.Hour)}
	for user := range want.Users {
		if g, w := toJSONString(got.Clients(user, opts)), toJSONString(want.Clients(user, opts)); g != w {
			t.Errorf("clients of %s:\ngot  %s\nwant %s", user, g, w)
		}
	}
}

// FuzzDecodeSnapshot mutates the decompressed body of snapshots and checks
// that DecodeSnapshot returns within a second and never panics, and that a
// snapshot it accepts gives views without a panic and encodes to a
// snapshot that decodes to the same state.
func FuzzDecodeSnapshot(f *testing.F) {
	for _, size := range []int{0, 1, 30, 300} {
		s := projector.NewState()
		for _, e := range history(uint64(size), 3, size) {
			if err := s.Apply(e); err != nil {
				f.Fatal(err)
			}
		}
		data, err := projector.EncodeSnapshot(s, uint64(size))
		if err != nil {
			f.Fatal(err)
		}
		body := decompress(f, data)
		f.Add(body)
		f.Add(body[:len(body)/2])
		f.Add(append(bytes.Clone(body), 0))
	}
	f.Add([]byte(`{"format":1,"seq":5,"state":{"users":{"user0@example.test":null}}}`))

	f.Fuzz(func(t *testing.T, body []byte) {
		data := compressed(t, string(body))

		timer := time.AfterFunc(time.Second, func() {
			panic(fmt.Sprintf("DecodeSnapshot of a %d-byte body still running after a second", len(body)))
		})
		state, seq, err := projector.DecodeSnapshot(data)
		timer.Stop()
		if err != nil {
			if !errors.Is(err, projector.ErrSnapshotInvalid) {
				t.Fatalf("DecodeSnapshot = %v, want ErrSnapshotInvalid", err)
			}
			return
		}
		opts := projector.ViewOptions{Now: base.Add(time.Hour), HeartbeatTimeout: time.Minute}
		for user := range state.Users {
			state.Clients(user, opts)
		}
		data, err = projector.EncodeSnapshot(state, seq)
		if err != nil {
			t.Fatal(err)
		}
		again, seqAgain, err := projector.DecodeSnapshot(data)
		if err != nil {
			t.Fatalf("DecodeSnapshot of a re-encoded snapshot = %v", err)
		}
		if seqAgain != seq {
			t.Fatalf("re-encoded snapshot has sequence %d, want %d", seqAgain, seq)
		}
		for user := range state.Users {
			if got, want := toJSONString(again.Clients(user, opts)), toJSONString(state.Clients(user, opts)); got != want {
				t.Fatalf("views of %s changed in a round trip:\n%s\n%s", user, got, want)
			}
		}
	})
}

func toJSONString(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(data)
}

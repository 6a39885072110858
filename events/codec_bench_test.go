package events_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/simulate"
)

// benchCorpus returns n encoded events of a simulated cluster, the payloads
// that a projector reads from the stream.
func benchCorpus(tb testing.TB, n int) [][]byte {
	tb.Helper()
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	g, err := simulate.NewGenerator(simulate.Config{Users: 1000, Events: n, Seed: 1, Start: start})
	if err != nil {
		tb.Fatal(err)
	}
	out := make([][]byte, n)
	for i := range out {
		e, err := g.Next()
		if err != nil {
			tb.Fatal(err)
		}
		if out[i], err = events.Encode(e); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

func benchBytes(corpus [][]byte) int64 {
	var n int64
	for _, d := range corpus {
		n += int64(len(d))
	}
	return n / int64(len(corpus))
}

func BenchmarkDecode(b *testing.B) {
	corpus := benchCorpus(b, 4096)
	b.SetBytes(benchBytes(corpus))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := events.Decode(corpus[i%len(corpus)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDecodedDecode decodes into one reused Decoded, as the
// projector does.
func BenchmarkDecodedDecode(b *testing.B) {
	corpus := benchCorpus(b, 4096)
	b.SetBytes(benchBytes(corpus))
	b.ReportAllocs()
	var d events.Decoded
	i := 0
	for b.Loop() {
		if err := d.Decode(corpus[i%len(corpus)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkDecodeStandardJSON(b *testing.B) {
	corpus := benchCorpus(b, 4096)
	b.SetBytes(benchBytes(corpus))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		var e events.Event
		if err := json.Unmarshal(corpus[i%len(corpus)], &e); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkValidate(b *testing.B) {
	corpus := benchCorpus(b, 4096)
	evs := make([]*events.Event, len(corpus))
	for i, d := range corpus {
		var err error
		if evs[i], err = events.Decode(d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := events.Validate(evs[i%len(evs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkEncode(b *testing.B) {
	corpus := benchCorpus(b, 4096)
	evs := make([]*events.Event, len(corpus))
	for i, d := range corpus {
		var err error
		if evs[i], err = events.Decode(d); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(benchBytes(corpus))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := events.Encode(evs[i%len(evs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkSubject(b *testing.B) {
	corpus := benchCorpus(b, 4096)
	evs := make([]*events.Event, len(corpus))
	for i, d := range corpus {
		var err error
		if evs[i], err = events.Decode(d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = events.Subject(evs[i%len(evs)])
		i++
	}
}

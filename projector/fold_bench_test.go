package projector_test

import (
	"testing"
	"time"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/simulate"
	"github.com/clientele-xmpp/clientele/projector"
)

// simulatedEvents returns n events of a simulated cluster with users
// accounts, each encoded and decoded again as the projector receives it.
func simulatedEvents(tb testing.TB, users, n int) []*events.Event {
	tb.Helper()
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	g, err := simulate.NewGenerator(simulate.Config{Users: users, Events: n, Seed: 1, Start: start})
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]*events.Event, n)
	for i := range out {
		e, err := g.Next()
		if err != nil {
			tb.Fatal(err)
		}
		data, err := events.Encode(e)
		if err != nil {
			tb.Fatal(err)
		}
		if out[i], err = events.Decode(data); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// BenchmarkApply folds a simulated history of 1,000 accounts into a new
// State, one event per iteration.
func BenchmarkApply(b *testing.B) {
	evs := simulatedEvents(b, 1000, 100_000)
	b.ReportAllocs()
	s := projector.NewState()
	i := 0
	for b.Loop() {
		if i == len(evs) {
			s, i = projector.NewState(), 0
		}
		if err := s.Apply(evs[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDecodeApply decodes into a reused events.Decoded and folds, as
// the projector does for every message of the stream.
func BenchmarkDecodeApply(b *testing.B) {
	evs := simulatedEvents(b, 1000, 100_000)
	payloads := make([][]byte, len(evs))
	for i, e := range evs {
		payloads[i], _ = events.Encode(e)
	}
	decodeAndFold(b, payloads)
}

// decodeAndFold decodes one payload into a reused events.Decoded and folds
// it per iteration, starting a new State after the last payload. It
// returns the State of the last iteration.
func decodeAndFold(b *testing.B, payloads [][]byte) *projector.State {
	b.ReportAllocs()
	s := projector.NewState()
	var d events.Decoded
	i := 0
	for b.Loop() {
		if i == len(payloads) {
			s, i = projector.NewState(), 0
		}
		if err := d.Decode(payloads[i]); err != nil {
			b.Fatal(err)
		}
		if err := s.Apply(&d.Event); err != nil {
			b.Fatal(err)
		}
		i++
	}
	return s
}

// BenchmarkClients lists the clients of one account of a folded history.
func BenchmarkClients(b *testing.B) {
	s := projector.NewState()
	for _, e := range simulatedEvents(b, 1000, 100_000) {
		if err := s.Apply(e); err != nil {
			b.Fatal(err)
		}
	}
	opt := projector.ViewOptions{Now: time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)}
	b.ReportAllocs()
	for b.Loop() {
		if len(s.Clients("user7@example.test", opt)) == 0 {
			b.Fatal("user7 has no clients")
		}
	}
}

// BenchmarkSnapshot encodes and decodes the state of a folded history.
func BenchmarkSnapshot(b *testing.B) {
	s := projector.NewState()
	for _, e := range simulatedEvents(b, 1000, 100_000) {
		if err := s.Apply(e); err != nil {
			b.Fatal(err)
		}
	}
	data, err := projector.EncodeSnapshot(s, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := projector.EncodeSnapshot(s, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, _, err := projector.DecodeSnapshot(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkApplyLongHistories decodes and folds 1,000,000 events of 20,000
// accounts, 50 per account as in the default catch-up of clientele bench.
// Its state, tens of megabytes, is larger than the CPU caches of common
// machines, so it shows the cost of the memory that each event touches,
// which BenchmarkDecodeApply does not. It also reports the sessions that
// the final state keeps and the session.unbound events of the history.
func BenchmarkApplyLongHistories(b *testing.B) {
	const users, n = 20_000, 1_000_000
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	g, err := simulate.NewGenerator(simulate.Config{Users: users, Events: n, Seed: 1, Start: start})
	if err != nil {
		b.Fatal(err)
	}
	payloads := make([][]byte, n)
	unbound := 0
	for i := range payloads {
		e, err := g.Next()
		if err != nil {
			b.Fatal(err)
		}
		if e.Type == events.SessionUnbound {
			unbound++
		}
		if payloads[i], err = events.Encode(e); err != nil {
			b.Fatal(err)
		}
	}
	s := decodeAndFold(b, payloads)
	kept := 0
	for _, a := range s.Users {
		kept += len(a.Sessions)
	}
	// With -benchtime 1000000x the state is that of the whole history.
	b.ReportMetric(float64(kept), "sessions-kept")
	b.ReportMetric(float64(unbound), "unbind-events")
}

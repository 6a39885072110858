package projector_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"

	"github.com/klauspost/compress/s2"

	"github.com/clientele-xmpp/clientele/projector"
)

// BenchmarkSnapshotCompression compresses and decompresses the body of a
// snapshot of 20,000 simulated accounts with the S2 level that snapshots
// use and with gzip at its fastest level, which earlier versions used. It
// reports the stored size as a share of the body.
func BenchmarkSnapshotCompression(b *testing.B) {
	s := projector.NewState()
	for _, e := range simulatedEvents(b, 20_000, 1_000_000) {
		if err := s.Apply(e); err != nil {
			b.Fatal(err)
		}
	}
	stored, err := projector.EncodeSnapshot(s, 1)
	if err != nil {
		b.Fatal(err)
	}
	body := decompress(b, stored)
	codecs := []struct {
		name   string
		writer func(io.Writer) io.WriteCloser
		reader func(io.Reader) io.Reader
	}{
		{"s2-better",
			func(w io.Writer) io.WriteCloser { return s2.NewWriter(w, s2.WriterBetterCompression()) },
			func(r io.Reader) io.Reader { return s2.NewReader(r) }},
		{"gzip-fastest",
			func(w io.Writer) io.WriteCloser { zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed); return zw },
			func(r io.Reader) io.Reader {
				zr, err := gzip.NewReader(r)
				if err != nil {
					panic(err) // The input is the benchmark's own gzip stream.
				}
				return zr
			}},
	}
	for _, c := range codecs {
		compress := func(b *testing.B, dst *bytes.Buffer) {
			dst.Reset()
			zw := c.writer(dst)
			if _, err := zw.Write(body); err != nil {
				b.Fatal(err)
			}
			if err := zw.Close(); err != nil {
				b.Fatal(err)
			}
		}
		var packed bytes.Buffer
		compress(b, &packed)
		b.Run(c.name+"/compress", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			var out bytes.Buffer
			for b.Loop() {
				compress(b, &out)
			}
			b.ReportMetric(float64(packed.Len())/float64(len(body)), "stored/body")
		})
		b.Run(c.name+"/decompress", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := io.Copy(io.Discard, c.reader(bytes.NewReader(packed.Bytes()))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

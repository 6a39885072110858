package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
)

// publishBatch is the number of events published together.
const publishBatch = 1000

func runPublish(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("publish", env.stderr)
	natsCfg := natsFlags(fs, env)
	pos, err := parseArgs(fs, env, args, 0, 1)
	if err != nil {
		return err
	}
	in := env.stdin
	name := "standard input"
	if len(pos) == 1 && pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in, name = f, pos[0]
	}

	nc, err := connectClient(ctx, env, natsCfg)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	p := &publishRun{pub: events.NewPublisher(js, events.PublisherOptions{}), stderr: env.stderr}
	if err := p.readAll(ctx, in); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	fmt.Fprintf(env.stderr, "published %d events (%d already stored), rejected %d lines, failed %d\n", p.stored+p.duplicates, p.duplicates, p.rejected, p.failed)
	if p.rejected > 0 || p.failed > 0 {
		return errReported
	}
	return nil
}

// publishRun reads events line by line and publishes them in batches.
type publishRun struct {
	pub    *events.Publisher
	stderr io.Writer

	batch []*events.Event
	lines []int

	stored, duplicates, rejected, failed int
}

func (p *publishRun) readAll(ctx context.Context, in io.Reader) error {
	r := bufio.NewReaderSize(in, 64<<10)
	for n := 1; ; n++ {
		line, tooLong, err := readLine(r, events.MaxEventSize)
		if errors.Is(err, io.EOF) && len(line) == 0 && !tooLong {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		p.add(n, line, tooLong)
		if len(p.batch) >= publishBatch {
			p.flush(ctx)
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	p.flush(ctx)
	return ctx.Err()
}

func (p *publishRun) add(n int, line []byte, tooLong bool) {
	line = bytes.TrimSpace(line)
	if tooLong {
		p.reject(n, fmt.Errorf("line longer than %d bytes; split it into one event per line", events.MaxEventSize))
		return
	}
	if len(line) == 0 {
		return
	}
	e, err := events.Decode(line)
	if err != nil {
		p.reject(n, err)
		return
	}
	p.batch = append(p.batch, e)
	p.lines = append(p.lines, n)
}

func (p *publishRun) reject(n int, err error) {
	p.rejected++
	fmt.Fprintf(p.stderr, "line %d: %v\n", n, err)
}

func (p *publishRun) flush(ctx context.Context) {
	if len(p.batch) == 0 {
		return
	}
	results, _ := p.pub.PublishBatch(ctx, p.batch)
	for i, r := range results {
		switch {
		case r.Err != nil:
			p.failed++
			fmt.Fprintf(p.stderr, "line %d: %v\n", p.lines[i], r.Err)
		case r.Duplicate:
			p.duplicates++
		default:
			p.stored++
		}
	}
	p.batch, p.lines = p.batch[:0], p.lines[:0]
}

// readLine returns the next line of r without its newline. A line longer than
// limit is consumed whole and reported as tooLong, with no content.
func readLine(r *bufio.Reader, limit int) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			buf = append(buf, chunk...)
			if len(buf) > limit+1 {
				tooLong, buf = true, nil
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong {
			return nil, true, err
		}
		return bytes.TrimRight(buf, "\r\n"), false, err
	}
}

package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progressReport is the state of a long-running command, such as the
// events that simulate published or that rebuild replayed.
type progressReport struct {
	// Done counts the units processed, of Total; Total 0 means unknown.
	Done, Total int64
	// Rate is units per second.
	Rate     float64
	Elapsed  time.Duration
	Finished bool
}

// progressBarWidth is the number of cells of the bar drawn on a terminal.
const progressBarWidth = 30

// progressPrinter shows a run's progress. On a terminal it rewrites one line
// with a bar, the rate and the ETA, at most five times a second. Otherwise it
// prints a plain line every five seconds and one when the run finishes.
type progressPrinter struct {
	w        io.Writer
	unit     string
	terminal bool
	quiet    bool
	last     time.Time
	printed  bool
}

func newProgressPrinter(w io.Writer, unit string, quiet bool) *progressPrinter {
	return &progressPrinter{w: w, unit: unit, terminal: isTerminal(w), quiet: quiet}
}

func (p *progressPrinter) print(r progressReport) {
	if p.quiet {
		return
	}
	every := 5 * time.Second
	if p.terminal {
		every = 200 * time.Millisecond
	}
	if !r.Finished && time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	line := p.line(r)
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.printed = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// line formats r: the bar on a terminal, the count and share, the rate, the
// elapsed time and, while the run goes on, the ETA.
func (p *progressPrinter) line(r progressReport) string {
	var b strings.Builder
	if r.Total > 0 {
		share := min(float64(r.Done)/float64(r.Total), 1)
		if p.terminal {
			filled := int(share * progressBarWidth)
			fmt.Fprintf(&b, "[%s%s] ", strings.Repeat("#", filled), strings.Repeat(".", progressBarWidth-filled))
		}
		fmt.Fprintf(&b, "%d/%d %s (%.0f%%)", r.Done, r.Total, p.unit, 100*share)
	} else {
		fmt.Fprintf(&b, "%d %s", r.Done, p.unit)
	}
	fmt.Fprintf(&b, ", %.0f %s/s, %s", r.Rate, p.unit, r.Elapsed.Round(time.Second))
	if r.Total > r.Done && r.Rate > 0 && !r.Finished {
		eta := time.Duration(float64(r.Total-r.Done) / r.Rate * float64(time.Second))
		fmt.Fprintf(&b, ", ETA %s", eta.Round(time.Second))
	}
	return b.String()
}

// done ends the rewritten line on a terminal.
func (p *progressPrinter) done() {
	if p.printed {
		fmt.Fprintln(p.w)
	}
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// plural returns n and noun, with an s appended unless n is 1.
func plural[N int | int64 | uint64](n N, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

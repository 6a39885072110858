package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/clientele-xmpp/clientele/ops/bench"
)

func runBench(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("bench", env.stderr)
	var cfg bench.Config
	quick := fs.Bool("quick", false, "run every measurement at smoke-test size, in seconds; sizes set by flags still apply")
	fs.IntVar(&cfg.Events, "events", 0, fmt.Sprintf("events published to the stream and replayed by the projector (default %d)", bench.DefaultEvents))
	fs.IntVar(&cfg.Users, "users", 0, fmt.Sprintf("accounts in the simulated stream (default %d)", bench.DefaultUsers))
	fs.IntVar(&cfg.HeapUsers, "heap-users", 0, fmt.Sprintf("accounts with %d clients each folded for the heap figure (default %d)", bench.ClientsPerHeapUser, bench.DefaultHeapUsers))
	fs.IntVar(&cfg.Requests, "requests", 0, fmt.Sprintf("list requests, and as many echo requests (default %d)", bench.DefaultRequests))
	fs.IntVar(&cfg.Revokes, "revokes", 0, fmt.Sprintf("revokes, and as many synchronous publishes (default %d)", bench.DefaultRevokes))
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the simulated history")
	only := fs.String("only", "", "comma-separated measurements to run, of "+strings.Join(bench.Measurements, ","))
	fs.StringVar(&cfg.Dir, "dir", "", "directory for the temporary JetStream store (default: the system's temporary directory)")
	jsonPath := fs.String("json", "bench.json", "file to write the results to as JSON; empty writes none")
	verbose := fs.Bool("verbose", false, "print the warnings and errors of the server, projector and query service")
	cpuProfile := fs.String("cpuprofile", "", "file to write a CPU profile of the whole run to, for go tool pprof")
	if _, err := parseArgs(fs, env, args, 0, 0); err != nil {
		return err
	}
	if *quick {
		cfg = withQuickSizes(cfg)
	}
	if *only != "" {
		cfg.Only = strings.Split(*only, ",")
	}
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	progress := &benchProgress{w: env.stderr, terminal: isTerminal(env.stderr)}
	cfg.Progress = progress.print

	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	report, err := bench.Run(ctx, cfg)
	stopProfile()
	progress.done()
	if err != nil {
		return err
	}
	if err := report.WriteTable(env.stdout); err != nil {
		return err
	}
	if *jsonPath == "" {
		return nil
	}
	if err := writeReport(*jsonPath, report); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "\nresults written to %s\n", *jsonPath)
	return nil
}

// startCPUProfile starts a CPU profile into path, unless path is empty,
// and returns the function that stops it.
func startCPUProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create CPU profile: %w: pass another --cpuprofile path", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// withQuickSizes sets the sizes of bench.Quick where cfg leaves the default.
func withQuickSizes(cfg bench.Config) bench.Config {
	q := bench.Quick()
	for _, f := range []struct{ value, quick *int }{
		{&cfg.Events, &q.Events}, {&cfg.Users, &q.Users}, {&cfg.HeapUsers, &q.HeapUsers},
		{&cfg.Requests, &q.Requests}, {&cfg.Revokes, &q.Revokes},
	} {
		if *f.value == 0 {
			*f.value = *f.quick
		}
	}
	return cfg
}

func writeReport(path string, report *bench.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write results: %w: pass another --json path", err)
	}
	if err := report.WriteJSON(f); err != nil {
		f.Close()
		return fmt.Errorf("write results to %s: %w", path, err)
	}
	return f.Close()
}

// benchProgress prints one line when a step starts and, during long
// steps, its count: rewritten in place on a terminal, or every ten seconds
// otherwise.
type benchProgress struct {
	w        io.Writer
	terminal bool
	step     string
	last     time.Time
	partial  bool
}

func (p *benchProgress) print(pr bench.Progress) {
	step := pr.Measurement + ": " + pr.Step
	line := step
	if pr.Total > 0 {
		line = fmt.Sprintf("%s: %d/%d", step, pr.Done, pr.Total)
	}
	switch {
	case step != p.step:
		p.step, p.last = step, time.Now()
		p.done()
		fmt.Fprintln(p.w, line)
	case p.terminal && time.Since(p.last) >= 200*time.Millisecond:
		p.last = time.Now()
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.partial = true
	case !p.terminal && time.Since(p.last) >= 10*time.Second:
		p.last = time.Now()
		fmt.Fprintln(p.w, line)
	}
}

// done ends a line that print left open.
func (p *benchProgress) done() {
	if p.partial {
		fmt.Fprintln(p.w)
		p.partial = false
	}
}

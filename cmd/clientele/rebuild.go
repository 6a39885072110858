package main

import (
	"context"
	"fmt"
	"io"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/query"
)

func runRebuild(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("rebuild", env.stderr)
	natsCfg := natsFlags(fs, env)
	verify := fs.Bool("verify", false, "replay the whole stream into a fresh view and compare it with the live service's view; required")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	quiet := fs.Bool("quiet", false, "print no progress, only the report")
	pageSize := fs.Int("page-size", query.DefaultAccountsLimit, fmt.Sprintf("`count` of accounts per request to the service, from 1 to %d", query.MaxAccountsLimit))
	if _, err := parseArgs(fs, env, args, 0, 0); err != nil {
		return err
	}
	if !*verify {
		fmt.Fprintln(env.stderr, "clientele rebuild: pass --verify: rebuild only verifies the live view against a replay and changes nothing")
		return errUsage
	}
	if *pageSize < 1 || *pageSize > query.MaxAccountsLimit {
		return fmt.Errorf("invalid --page-size %d: expected a whole number from 1 to %d", *pageSize, query.MaxAccountsLimit)
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

	progress := newProgressPrinter(env.stderr, "events", *quiet)
	report, err := query.Verify(ctx, js, query.NewClient(nc), query.VerifyOptions{
		PageSize: *pageSize,
		Progress: func(p query.VerifyProgress) {
			progress.print(progressReport{Done: int64(p.Seq), Total: int64(p.Total), Rate: p.Rate, Elapsed: p.Elapsed, Finished: p.Finished})
		},
	})
	progress.done()
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if *asJSON {
		err = writeJSON(env.stdout, report)
	} else {
		err = writeVerifyReport(env.stdout, report)
	}
	if err != nil {
		return err
	}
	if len(report.Differences) > 0 {
		return errReported
	}
	return nil
}

// writeVerifyReport prints each difference on a line that names the
// account and the client, then a summary.
func writeVerifyReport(w io.Writer, r *query.VerifyReport) error {
	for _, d := range r.Differences {
		switch d.Kind {
		case query.DiffOnlyLive:
			fmt.Fprintf(w, "%s %s: listed by the live view only; the replay does not list it\n", d.User, d.Client)
		case query.DiffOnlyReplay:
			fmt.Fprintf(w, "%s %s: listed by the replay only; the live view does not list it\n", d.User, d.Client)
		default:
			for _, ch := range d.Changes {
				fmt.Fprintf(w, "%s %s: %s: live %s, replay %s\n", d.User, d.Client, ch.Field, ch.Before, ch.After)
			}
		}
	}
	if r.FirstSeq > 1 {
		fmt.Fprintf(w, "note: the stream starts at sequence %d; older events were removed, and state that only they carried cannot be replayed\n", r.FirstSeq)
	}
	if len(r.Differences) == 0 {
		_, err := fmt.Fprintf(w, "verified %d accounts (%d clients) up to sequence %d: the live view equals the replay\n", r.Accounts, r.Clients, r.Seq)
		return err
	}
	_, err := fmt.Fprintf(w, "%s differ in %d accounts (%d clients) up to sequence %d\n", plural(len(r.Differences), "client"), r.Accounts, r.Clients, r.Seq)
	return err
}

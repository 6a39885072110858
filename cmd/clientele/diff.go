package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

func runDiff(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("diff", env.stderr)
	natsCfg := natsFlags(fs, env)
	asJSON := fs.Bool("json", false, "print the difference as JSON")
	pos, err := parseArgs(fs, env, args, 3, 3)
	if err != nil {
		return err
	}
	now := time.Now()
	from, err := parseTimeArg("T1", pos[1], now)
	if err != nil {
		return err
	}
	to, err := parseTimeArg("T2", pos[2], now)
	if err != nil {
		return err
	}
	nc, err := connectClient(ctx, env, natsCfg)
	if err != nil {
		return err
	}
	defer nc.Close()

	reply, err := query.NewClient(nc).Diff(ctx, query.DiffRequest{User: pos[0], From: from, To: to})
	if err != nil {
		return fmt.Errorf("diff of %s: %w", pos[0], err)
	}
	warnRetention(env.stderr, reply.Replay)
	if *asJSON {
		return writeJSON(env.stdout, reply)
	}
	return writeDiff(env.stdout, reply)
}

// writeDiff prints a line per client: + for gained access, - for lost
// access and ~ for a change, followed by a summary.
func writeDiff(w io.Writer, reply *query.DiffReply) error {
	for _, c := range reply.Added {
		fmt.Fprintf(w, "+ %s  %s\n", c.ID, describeClient(c))
	}
	for _, c := range reply.Removed {
		fmt.Fprintf(w, "- %s  %s\n", c.ID, describeClient(c))
	}
	for _, c := range reply.Changed {
		var changes []string
		for _, ch := range query.CompareClient(c.Before, c.After, false) {
			changes = append(changes, fmt.Sprintf("%s %s -> %s", ch.Field, ch.Before, ch.After))
		}
		fmt.Fprintf(w, "~ %s  %s: %s\n", c.ID, orDash(software(c.After.UserAgent)), strings.Join(changes, "; "))
	}
	_, err := fmt.Fprintf(w, "%d gained, %d changed and %d lost access for %s from %s to %s\n",
		len(reply.Added), len(reply.Changed), len(reply.Removed), reply.User, formatTime(reply.From), formatTime(reply.To))
	return err
}

func describeClient(c projector.ClientView) string {
	return fmt.Sprintf("%s  device=%s  auth=%s  connected=%s", orDash(software(c.UserAgent)), orDash(c.UserAgent.Device),
		orDash(strings.Join(c.Auth, ",")), yesNo(c.Connected))
}

// warnRetention writes a note to w when the stream no longer contains its
// oldest events, so that a past view may lack access granted before them.
func warnRetention(w io.Writer, r query.ReplayInfo) {
	if r.FirstSeq > 1 {
		fmt.Fprintf(w, "clientele: note: the stream starts at %s (sequence %d); older events were removed, so this view lacks what only they recorded\n",
			formatTime(r.FirstTime), r.FirstSeq)
	}
}

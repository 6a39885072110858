package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/query"
)

// maxForgetRounds bounds the requests of one forget --overwrite, each of
// which overwrites events until the service's deadline.
const maxForgetRounds = 50

func runForget(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("forget", env.stderr)
	natsCfg := natsFlags(fs, env)
	yes := fs.Bool("yes", false, "confirm the erasure, which cannot be undone; required")
	overwrite := fs.Bool("overwrite", false, "overwrite every stored event of the account with random bytes before the purge, so that no copy stays on disk; slow, one message block rewrite per event")
	actor := fs.String("actor", "", "administrator who asks, recorded on the tombstone; empty means "+query.DefaultAdminActor)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	pos, err := parseArgs(fs, env, args, 1, 1)
	if err != nil {
		return err
	}
	if !*yes {
		fmt.Fprintf(env.stderr, "clientele forget: this erases every stored event, revoke command and view of %s and cannot be undone: run it again with --yes\n", pos[0])
		return errUsage
	}
	nc, err := connectClient(ctx, env, natsCfg)
	if err != nil {
		return err
	}
	defer nc.Close()

	c := query.NewClient(nc)
	req := query.ForgetRequest{User: pos[0], Actor: *actor, Overwrite: *overwrite, RequestID: events.NewID()}
	reply, err := c.Forget(ctx, req)
	for round := 1; *overwrite && errors.Is(err, query.ErrTimeout) && round < maxForgetRounds; round++ {
		fmt.Fprintf(env.stderr, "clientele forget: %v; continuing\n", err)
		reply, err = c.Forget(ctx, req)
	}
	if err != nil {
		return fmt.Errorf("forget %s: %w; run the same command again to finish", pos[0], err)
	}
	if *asJSON {
		return writeJSON(env.stdout, reply)
	}
	fmt.Fprintf(env.stdout, "forgot %s: removed %s, %s and %s; tombstone at sequence %d with user key %s\n",
		pos[0], plural(reply.Events, "event"), plural(reply.Commands, "revoke command"), plural(reply.DeadLetters, "dead letter"), reply.TombstoneSeq, reply.UserKey)
	if *overwrite {
		fmt.Fprintf(env.stdout, "overwrote %s before the purge\n", plural(reply.Overwritten, "event"))
	}
	if !reply.SnapshotStored {
		fmt.Fprintln(env.stderr, "clientele forget: the service stored no new snapshot; the stored snapshot still contains the account until the next snapshot interval")
	}
	return nil
}

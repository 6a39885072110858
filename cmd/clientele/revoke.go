package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/clientele-xmpp/clientele/query"
)

func runRevoke(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("revoke", env.stderr)
	natsCfg := natsFlags(fs, env)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	actor := fs.String("actor", "", "who asks for the revoke, recorded in the event; empty means the account itself, or admin with --all-accounts")
	modes := &revokeModes{}
	modes.register(fs)
	pos, err := parseArgs(fs, env, args, 0, 2)
	if err != nil {
		return err
	}
	if err := modes.check(fs, pos); err != nil {
		return err
	}
	selector := ""
	if !modes.allAccounts && modes.allExcept == "" {
		if selector, err = modes.selector(pos); err != nil {
			return err
		}
	}
	nc, err := connectClient(ctx, env, natsCfg)
	if err != nil {
		return err
	}
	defer nc.Close()
	c := query.NewClient(nc)

	switch {
	case modes.allAccounts:
		return revokeAllAccounts(ctx, env, c, modes, *actor, *asJSON)
	case modes.allExcept != "":
		return revokeOthers(ctx, env, c, pos[0], modes.allExcept, *actor, *asJSON)
	}
	reply, err := c.Revoke(ctx, query.RevokeRequest{User: pos[0], Selector: selector, Actor: *actor})
	if errors.Is(err, query.ErrNotFound) {
		return fmt.Errorf("revoke %s of %s: no such client: list the ids with `clientele clients %s`", selector, pos[0], pos[0])
	}
	if err != nil {
		return fmt.Errorf("revoke %s of %s: %w", selector, pos[0], err)
	}
	return printRevokeReply(env, reply, pos[0], selector, *asJSON)
}

// printRevokeReply prints the revoked clients of user, and returns
// errReported after telling how to end the password access that remains.
func printRevokeReply(env *environment, reply *query.RevokeReply, user, what string, asJSON bool) error {
	if asJSON {
		if err := writeJSON(env.stdout, reply); err != nil {
			return err
		}
	} else {
		for _, id := range reply.Revoked {
			fmt.Fprintf(env.stdout, "revoked %s of %s\n", id, user)
		}
	}
	if reply.PasswordResetRequired {
		fmt.Fprintf(env.stderr, "clientele revoke: %s still has access with the account password: change the password of %s to end it\n", what, user)
		return errReported
	}
	return nil
}

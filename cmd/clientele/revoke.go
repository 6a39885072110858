package main

import (
	"context"
	"fmt"

	"github.com/clientele-xmpp/clientele/query"
)

func runRevoke(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("revoke", env.stderr)
	natsCfg := natsFlags(fs, env)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	actor := fs.String("actor", "", "who asks for the revoke, recorded in the event; empty means the account itself")
	pos, err := parseArgs(fs, env, args, 2, 2)
	if err != nil {
		return err
	}
	nc, err := connectClient(ctx, env, natsCfg)
	if err != nil {
		return err
	}
	defer nc.Close()

	reply, err := query.NewClient(nc).Revoke(ctx, query.RevokeRequest{User: pos[0], Selector: pos[1], Actor: *actor})
	if err != nil {
		return fmt.Errorf("revoke %s of %s: %w", pos[1], pos[0], err)
	}
	if *asJSON {
		if err := writeJSON(env.stdout, reply); err != nil {
			return err
		}
	} else {
		for _, id := range reply.Revoked {
			fmt.Fprintf(env.stdout, "revoked %s of %s\n", id, pos[0])
		}
	}
	if reply.PasswordResetRequired {
		fmt.Fprintf(env.stderr, "clientele revoke: %s still has access with the account password: change the password of %s to end it\n", pos[1], pos[0])
		return errReported
	}
	return nil
}

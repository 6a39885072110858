package main

import (
	"context"
	"fmt"
	"os"

	"github.com/clientele-xmpp/clientele/query"
)

func runExport(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("export", env.stderr)
	natsCfg := natsFlags(fs, env)
	output := fs.String("output", "", "write the export to this `file`, created with mode 0600, instead of standard output")
	pos, err := parseArgs(fs, env, args, 1, 1)
	if err != nil {
		return err
	}
	nc, err := connectClient(ctx, env, natsCfg)
	if err != nil {
		return err
	}
	defer nc.Close()

	export, err := query.NewClient(nc).Export(ctx, pos[0])
	if err != nil {
		return fmt.Errorf("export %s: %w", pos[0], err)
	}
	if *output == "" {
		return writeJSON(env.stdout, export)
	}
	f, err := os.OpenFile(*output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("export %s: %w", pos[0], err)
	}
	if err := writeJSON(f, export); err != nil {
		f.Close()
		return fmt.Errorf("export %s: write %s: %w", pos[0], *output, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("export %s: write %s: %w", pos[0], *output, err)
	}
	fmt.Fprintf(env.stderr, "wrote %d events and %d clients of %s to %s\n", len(export.Events), len(export.Clients), export.User, *output)
	return nil
}

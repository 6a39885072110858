package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/clientele-xmpp/clientele/query"
)

func runAccounts(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("accounts", env.stderr)
	natsCfg := natsFlags(fs, env)
	softwareFlag := fs.String("software", "", "list the accounts with a client of this software, as `NAME` or NAME/VERSION, such as Gajim or Gajim/1.9.5; the name is matched without regard to case")
	asJSON := fs.Bool("json", false, "print the accounts as JSON")
	if _, err := parseArgs(fs, env, args, 0, 0); err != nil {
		return err
	}
	name, version, err := splitSoftware(*softwareFlag)
	if err != nil {
		return err
	}
	nc, err := connectClient(ctx, env, natsCfg)
	if err != nil {
		return err
	}
	defer nc.Close()

	matches, err := query.NewClient(nc).Accounts(ctx, query.AccountsRequest{Software: name, Version: version})
	if err != nil {
		return fmt.Errorf("accounts with %s: %w", *softwareFlag, err)
	}
	if *asJSON {
		return writeJSON(env.stdout, accountsJSON{Software: name, Version: version, Accounts: orEmpty(matches)})
	}
	return writeAccounts(env.stdout, *softwareFlag, matches)
}

// accountsJSON is the --json form of the accounts command.
type accountsJSON struct {
	Software string               `json:"software"`
	Version  string               `json:"version,omitempty"`
	Accounts []query.AccountMatch `json:"accounts"`
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// splitSoftware parses NAME or NAME/VERSION, as --software takes it.
func splitSoftware(v string) (name, version string, err error) {
	name, version, _ = strings.Cut(strings.TrimSpace(v), "/")
	if name == "" {
		return "", "", fmt.Errorf("invalid --software %q: expected NAME or NAME/VERSION, such as Gajim or Gajim/1.9.5", v)
	}
	return name, version, nil
}

func writeAccounts(w io.Writer, selector string, matches []query.AccountMatch) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tID\tSOFTWARE\tDEVICE\tAUTH\tCONNECTED")
	clients := 0
	for _, m := range matches {
		for _, c := range m.Clients {
			clients++
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.User, c.ID, orDash(software(c.UserAgent)),
				orDash(c.UserAgent.Device), orDash(strings.Join(c.Auth, ",")), yesNo(c.Connected))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s of %s in %s\n", plural(clients, "client"), selector, plural(len(matches), "account"))
	return err
}

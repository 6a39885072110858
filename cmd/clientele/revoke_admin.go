package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

// revokeModes are the flags that choose what revoke revokes besides one
// listing id.
type revokeModes struct {
	software    string
	allAccounts bool
	dryRun      bool
	allExcept   string
}

func (m *revokeModes) register(fs *flag.FlagSet) {
	fs.StringVar(&m.software, "software", "", "revoke every client of this software, as `NAME` or NAME/VERSION; with USER in that account, with --all-accounts in every account")
	fs.BoolVar(&m.allAccounts, "all-accounts", false, "with --software: revoke in every account instead of one; takes no USER")
	fs.BoolVar(&m.dryRun, "dry-run", false, "with --all-accounts: print the count and the accounts that would be revoked, and change nothing")
	fs.StringVar(&m.allExcept, "all-except", "", "revoke every client of USER except the one with this listing `ID` (sign out everywhere else)")
}

// check checks the positional arguments against the mode, and prints
// the problem and the usage for a wrong combination.
func (m *revokeModes) check(fs *flag.FlagSet, pos []string) error {
	var problem string
	switch {
	case m.allAccounts && m.software == "":
		problem = "--all-accounts needs --software NAME[/VERSION]"
	case m.allAccounts && len(pos) != 0:
		problem = "--all-accounts takes no USER or ID"
	case m.allAccounts && m.allExcept != "":
		problem = "--all-accounts and --all-except exclude each other"
	case m.dryRun && !m.allAccounts:
		problem = "--dry-run works only with --all-accounts"
	case m.allExcept != "" && (len(pos) != 1 || m.software != ""):
		problem = "--all-except ID takes exactly one USER and no --software"
	case !m.allAccounts && m.software != "" && len(pos) != 1:
		problem = "--software with one account takes exactly one USER; add --all-accounts for every account"
	case !m.allAccounts && m.software == "" && m.allExcept == "" && len(pos) != 2:
		problem = fmt.Sprintf("wrong number of arguments: got %d, want USER ID", len(pos))
	}
	if problem == "" {
		return nil
	}
	fmt.Fprintf(fs.Output(), "%s: %s\n\n", fs.Name(), problem)
	fs.Usage()
	return errUsage
}

// selector returns the revoke selector for one account: the listing id
// argument, or the software selector of --software.
func (m *revokeModes) selector(pos []string) (string, error) {
	if m.software == "" {
		return pos[1], nil
	}
	name, version, err := splitSoftware(m.software)
	if err != nil {
		return "", err
	}
	sel := projector.SoftwarePrefix + name
	if version != "" {
		sel += "/" + version
	}
	return sel, nil
}

// revokeAllAccounts carries out or, with --dry-run, previews a
// software-wide revoke, and prints a line per account and a summary.
func revokeAllAccounts(ctx context.Context, env *environment, c *query.Client, m *revokeModes, actor string, asJSON bool) error {
	name, version, err := splitSoftware(m.software)
	if err != nil {
		return err
	}

	verb := "revoked"
	if m.dryRun {
		verb = "would revoke"
	}
	printPage := func(page *query.RevokeSoftwareReply) {
		if asJSON {
			return
		}
		for _, a := range page.Accounts {
			fmt.Fprintf(env.stdout, "%s %s of %s: %s\n", verb, plural(len(a.Clients), "client"), a.User, strings.Join(a.Clients, " "))
		}
	}
	req := query.RevokeSoftwareRequest{Software: name, Version: version, DryRun: m.dryRun, Actor: actor}
	accounts, err := c.RevokeSoftware(ctx, req, printPage)
	if err != nil {
		return fmt.Errorf("revoke %s in every account (%d accounts done before the error): %w", m.software, len(accounts), err)
	}

	clients := 0
	var resets []string
	for _, a := range accounts {
		clients += len(a.Clients)
		if a.PasswordResetRequired {
			resets = append(resets, a.User)
		}
	}

	if asJSON {
		if err := writeJSON(env.stdout, revokeAllJSON{DryRun: m.dryRun, Software: name, Version: version, Clients: clients, Accounts: orEmpty(accounts)}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(env.stdout, "%s %s of %s in %s\n", verb, plural(clients, "client"), m.software, plural(len(accounts), "account"))
	}

	if len(resets) > 0 && !m.dryRun {
		fmt.Fprintf(env.stderr, "clientele revoke: revoked clients of %s still have access with the account password: change the passwords of %s to end it\n", plural(len(resets), "account"), strings.Join(resets, ", "))
		return errReported
	}
	return nil
}

// revokeAllJSON is the --json form of revoke --all-accounts.
type revokeAllJSON struct {
	DryRun   bool                  `json:"dry_run"`
	Software string                `json:"software"`
	Version  string                `json:"version,omitempty"`
	Clients  int                   `json:"clients"`
	Accounts []query.AccountRevoke `json:"accounts"`
}

// revokeOthers revokes every client of user except keep.
func revokeOthers(ctx context.Context, env *environment, c *query.Client, user, keep, actor string, asJSON bool) error {
	reply, err := c.RevokeOthers(ctx, query.RevokeOthersRequest{User: user, Keep: keep, Actor: actor})
	if errors.Is(err, query.ErrNotFound) {
		return fmt.Errorf("%s is not a listed client of %s, so nothing was revoked: run `clientele clients %s` for the ids", keep, user, user)
	}
	if err != nil {
		return fmt.Errorf("revoke every client of %s except %s: %w", user, keep, err)
	}
	return printRevokeReply(env, reply, user, "every client but "+keep, asJSON)
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

func runClients(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("clients", env.stderr)
	natsCfg := natsFlags(fs, env)
	asJSON := fs.Bool("json", false, "print the list as JSON")
	pos, err := parseArgs(fs, env, args, 1, 1)
	if err != nil {
		return err
	}
	nc, err := connectClient(ctx, env, natsCfg)
	if err != nil {
		return err
	}
	defer nc.Close()

	reply, err := query.NewClient(nc).List(ctx, query.ListRequest{User: pos[0]})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(env.stdout, clientsJSON{User: reply.User, Clients: reply.Clients})
	}
	return writeClientTable(env.stdout, reply.User, reply.Clients)
}

// clientsJSON is the --json form of the clients command.
type clientsJSON struct {
	User    string                 `json:"user"`
	Clients []projector.ClientView `json:"clients"`
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeClientTable(w io.Writer, user string, clients []projector.ClientView) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSOFTWARE\tDEVICE\tFIRST SEEN\tLAST SEEN\tAUTH\tCONNECTED\tTYPE")
	for _, c := range clients {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			c.ID, orDash(software(c.UserAgent)), orDash(c.UserAgent.Device),
			formatTime(c.FirstSeen), formatTime(c.LastSeen),
			orDash(strings.Join(c.Auth, ",")), yesNo(c.Connected), clientType(c))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	noun := "clients"
	if len(clients) == 1 {
		noun = "client"
	}
	_, err := fmt.Fprintf(w, "%d %s of %s\n", len(clients), noun, user)
	return err
}

func software(ua projector.UserAgent) string {
	return strings.TrimSpace(ua.Software + " " + ua.Version)
}

func clientType(c projector.ClientView) string {
	if c.Legacy {
		return c.Type + ",legacy"
	}
	return c.Type
}

func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

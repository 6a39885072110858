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
	at := newTimeFlag("at")
	fs.Var(at, "at", "list the clients as they stood at this `time`, from a replay of the stream: "+timeArgForms)
	pos, err := parseArgs(fs, env, args, 1, 1)
	if err != nil {
		return err
	}
	nc, err := connectClient(ctx, env, natsCfg)
	if err != nil {
		return err
	}
	defer nc.Close()
	if at.set {
		return clientsAt(ctx, env, query.NewClient(nc), pos[0], at.t, *asJSON)
	}

	reply, err := query.NewClient(nc).List(ctx, query.ListRequest{User: pos[0], MinSeq: streamLastSeq(ctx, nc)})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(env.stdout, clientsJSON{User: reply.User, Clients: reply.Clients})
	}
	return writeClientTable(env.stdout, reply.User, reply.Clients)
}

// clientsJSON is the --json form of the clients command. At is set with
// --at.
type clientsJSON struct {
	User    string                 `json:"user"`
	At      *time.Time             `json:"at,omitempty"`
	Clients []projector.ClientView `json:"clients"`
}

// clientsAt prints the clients of user at time at.
func clientsAt(ctx context.Context, env *environment, c *query.Client, user string, at time.Time, asJSON bool) error {
	reply, err := c.ClientsAt(ctx, query.ClientsAtRequest{User: user, At: at})
	if err != nil {
		return fmt.Errorf("clients of %s at %s: %w", user, formatTime(at), err)
	}
	warnRetention(env.stderr, reply.Replay)
	if asJSON {
		return writeJSON(env.stdout, clientsJSON{User: reply.User, At: &reply.At, Clients: reply.Clients})
	}
	if err := writeClientTable(env.stdout, reply.User, reply.Clients); err != nil {
		return err
	}
	_, err = fmt.Fprintf(env.stdout, "as they stood at %s (replayed from %d stream messages)\n", reply.At.UTC().Format(time.RFC3339Nano), reply.Replay.Read)
	return err
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

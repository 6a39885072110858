package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

// historyTimeLayout shows event times to the millisecond, in UTC.
const historyTimeLayout = "2006-01-02T15:04:05.000Z07:00"

func runHistory(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("history", env.stderr)
	natsCfg := natsFlags(fs, env)
	since, until := newTimeFlag("since"), newTimeFlag("until")
	fs.Var(since, "since", "show only events at or after this `time`: "+timeArgForms)
	fs.Var(until, "until", "show only events at or before this `time`, in the same forms as --since")
	asJSON := fs.Bool("json", false, "print the events as JSON")
	pos, err := parseArgs(fs, env, args, 1, 1)
	if err != nil {
		return err
	}
	nc, err := connectClient(ctx, env, natsCfg)
	if err != nil {
		return err
	}
	defer nc.Close()

	reply, err := query.NewClient(nc).History(ctx, query.HistoryRequest{User: pos[0], Since: since.t, Until: until.t})
	if err != nil {
		return fmt.Errorf("history of %s: %w", pos[0], err)
	}
	if *asJSON {
		return writeJSON(env.stdout, historyJSON{User: reply.User, Events: reply.Entries, Skipped: reply.Skipped})
	}
	return writeHistory(env.stdout, reply)
}

// historyJSON is the --json form of the history command.
type historyJSON struct {
	User    string               `json:"user"`
	Events  []query.HistoryEntry `json:"events"`
	Skipped int                  `json:"skipped"`
}

func writeHistory(w io.Writer, reply *query.HistoryReply) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tNODE\tEVENT\tCLIENT\tSOFTWARE\tDETAILS")
	for _, e := range reply.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n",
			e.Time.UTC().Format(historyTimeLayout), e.Node, e.Type, orDash(eventClient(reply.User, e)),
			orDash(eventSoftware(e)), orDash(eventDetails(e)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	noun := "events"
	if len(reply.Entries) == 1 {
		noun = "event"
	}
	fmt.Fprintf(w, "%d %s of %s\n", len(reply.Entries), noun, reply.User)
	if reply.Skipped > 0 {
		fmt.Fprintf(w, "%d stored messages of %s are not valid events and were skipped\n", reply.Skipped, reply.User)
	}
	return nil
}

// eventClient returns the listing id that an event names through its SASL2
// client id, or the revoked listing id of client.revoked, and "" otherwise.
func eventClient(user string, e query.HistoryEntry) string {
	if e.Target != "" {
		return e.Target
	}
	if id := e.ClientID(); id != "" {
		return projector.ListingID(user, "c:"+id)
	}
	return ""
}

func eventSoftware(e query.HistoryEntry) string {
	if c := e.Client; c != nil && c.Software != "" {
		return strings.TrimSpace(c.Software + " " + c.Version)
	}
	if g := e.Grant; g != nil && g.Name != "" {
		return strings.TrimSpace(g.Name + " " + g.SoftwareVersion)
	}
	return ""
}

// eventDetails lists the fields of an event that its other columns do not
// show, as key=value pairs.
func eventDetails(e query.HistoryEntry) string {
	var parts []string
	add := func(key, value string) {
		if value != "" {
			parts = append(parts, key+"="+value)
		}
	}
	if s := e.Session; s != nil {
		add("session", s.ID)
		add("resource", s.Resource)
	}
	if c := e.Client; c != nil {
		add("device", c.Device)
	}
	if g := e.Grant; g != nil {
		add("grant", g.ID)
		add("permission", g.Permission)
		if !g.Expires.IsZero() {
			add("expires", g.Expires.UTC().Format(time.RFC3339))
		}
	}
	if f := e.Fast; f != nil {
		add("fast", f.Fingerprint)
	}
	add("mechanism", e.Mechanism)
	add("reason", e.Reason)
	add("actor", e.Actor)
	add("boot", e.Boot)
	add("ip", e.IP)
	return strings.Join(parts, " ")
}

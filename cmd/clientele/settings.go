package main

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/ops/settings"
)

// runSettings prints every setting, prints one with "get NAME", or changes
// one with "set NAME VALUE". Nodes pick a change up through GET
// /v1/settings of the node interface.
func runSettings(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("settings", env.stderr)
	natsCfg := natsFlags(fs, env)
	asJSON := fs.Bool("json", false, "print the settings as JSON")
	pos, err := parseArgs(fs, env, args, 0, 3)
	if err != nil {
		return err
	}
	action, err := parseSettingsArgs(pos)
	if err != nil {
		fmt.Fprintf(env.stderr, "clientele settings: %v\n\n", err)
		fs.Usage()
		return errUsage
	}

	nc, err := connectClient(ctx, env, natsCfg)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	store, err := settings.Open(ctx, js)
	if err != nil {
		return err
	}

	current, err := action.run(ctx, store)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(env.stdout, current)
	}
	names := settings.Names()
	if action.name != "" {
		names = []string{action.name}
	}
	for _, name := range names {
		value, err := current.Value(name)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "%s = %s\n", name, value)
	}
	return nil
}

// settingsAction is a parsed settings command line: list (no name), get or
// set.
type settingsAction struct {
	verb, name, value string
}

func parseSettingsArgs(pos []string) (settingsAction, error) {
	if len(pos) == 0 {
		return settingsAction{verb: "list"}, nil
	}
	a := settingsAction{verb: pos[0]}
	switch {
	case a.verb == "get" && len(pos) == 2:
		a.name = pos[1]
	case a.verb == "set" && len(pos) == 3:
		a.name, a.value = pos[1], pos[2]
	case a.verb == "get" || a.verb == "set":
		return a, fmt.Errorf("%s: wrong number of arguments: expected get NAME or set NAME VALUE", a.verb)
	default:
		return a, fmt.Errorf("unknown action %q: expected get NAME or set NAME VALUE", a.verb)
	}
	if a.verb == "set" {
		_, err := settings.Parse(a.name, a.value)
		return a, err
	}
	_, err := settings.Settings{}.Value(a.name)
	return a, err
}

func (a settingsAction) run(ctx context.Context, store *settings.Store) (settings.Settings, error) {
	if a.verb != "set" {
		return store.Get(ctx)
	}
	return store.Set(ctx, a.name, a.value)
}

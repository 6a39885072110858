package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/clientele-xmpp/clientele/ops"
)

// newFlagSet returns a flag set for command c that prints its usage to w.
func newFlagSet(c string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("clientele "+c, flag.ContinueOnError)
	fs.SetOutput(w)
	for _, cmd := range commands {
		if cmd.name != c {
			continue
		}
		fs.Usage = func() {
			fmt.Fprintf(fs.Output(), "Usage: clientele %s %s\n\n%s.\n\nFlags:\n", cmd.name, cmd.args, upperFirst(cmd.summary))
			fs.PrintDefaults()
		}
	}
	return fs
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// parseArgs applies the CLIENTELE_* variables of fs, then parses args with
// flags allowed before, between and after the positional arguments, and
// returns the positional ones. It checks their count against min and max
// (max < 0 means any number).
func parseArgs(fs *flag.FlagSet, env *environment, args []string, minArgs, maxArgs int) ([]string, error) {
	if helpRequested(args) {
		// Requested help is output, so it goes where a pager can read it.
		fs.SetOutput(env.stdout)
	}
	if err := applyEnv(fs, env); err != nil {
		fmt.Fprintln(fs.Output(), err)
		return nil, errUsage
	}
	nameEnv(fs)
	var positional []string
	for {
		if len(args) > 0 && startsNegativeNumber(args[0]) {
			// No flag name starts with a digit, so "-2h" is a value.
			positional = append(positional, args[0])
			args = args[1:]
			continue
		}
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "-" || !strings.HasPrefix(args[0], "-") || startsNegativeNumber(args[0]) {
			positional = append(positional, args[0])
			args = args[1:]
			continue
		}
		// fs.Parse stopped at "--": everything after it is positional.
		positional = append(positional, args...)
		break
	}
	if len(positional) < minArgs || (maxArgs >= 0 && len(positional) > maxArgs) {
		fmt.Fprintf(fs.Output(), "%s: wrong number of arguments: got %d\n\n", fs.Name(), len(positional))
		fs.Usage()
		return nil, errUsage
	}
	return positional, nil
}

// helpRequested reports whether args ask for help before any "--".
func helpRequested(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--h", "--help":
			return true
		}
	}
	return false
}

// startsNegativeNumber reports whether arg is a minus sign followed by a
// digit, such as the relative time -2h.
func startsNegativeNumber(arg string) bool {
	return len(arg) > 1 && arg[0] == '-' && arg[1] >= '0' && arg[1] <= '9'
}

// commandLineOnly lists flags that confirm an irreversible action, such as
// forget --yes: a variable left in the environment must not confirm it.
var commandLineOnly = []string{"yes"}

// nameEnv adds its CLIENTELE_* variable to the usage of every flag of fs
// that applyEnv sets and whose usage does not name one yet.
func nameEnv(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		if slices.Contains(commandLineOnly, f.Name) || strings.Contains(f.Usage, "(env ") {
			return
		}
		f.Usage += " (env " + ops.EnvName(f.Name) + ")"
	})
}

// applyEnv sets the flags of fs from their CLIENTELE_* variables, except
// those in commandLineOnly.
func applyEnv(fs *flag.FlagSet, env *environment) error {
	lookup := func(name string) (string, bool) {
		for _, f := range commandLineOnly {
			if name == ops.EnvName(f) {
				return "", false
			}
		}
		return env.lookupEnv(name)
	}
	return ops.ApplyEnv(fs, lookup)
}

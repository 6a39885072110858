// Command clientele tracks which clients have access to the accounts of XMPP
// servers, from auth and session events on NATS JetStream, and lets users
// and operators list and revoke them.
//
// Usage:
//
//	clientele COMMAND [flags] [arguments]
//
// Run "clientele help" for the list of commands, and "clientele COMMAND
// --help" for the flags of one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// command is one subcommand of the clientele binary.
type command struct {
	name    string
	args    string
	summary string
	run     func(ctx context.Context, env *environment, args []string) error
}

// environment is the standard streams and variables of a command.
type environment struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)
}

// commands is filled by init, because the commands' flag sets read it.
var commands []command

func init() {
	commands = []command{
		{"serve", "[flags]", "run the projector, query service and XMPP component, with an embedded NATS server unless --nats-url is set", runServe},
		{"publish", "[flags] [FILE|-]", "validate newline-delimited JSON events and publish the valid ones", runPublish},
		{"clients", "[flags] USER", "list the clients of an account, now or with --at as they stood at a past time", runClients},
		{"revoke", "[flags] USER ID | USER --all-except ID | --software NAME[/VERSION] --all-accounts", "revoke a client of an account by listing id or software/NAME[/VERSION], every client but one, or a software in every account", runRevoke},
		{"history", "[flags] USER", "print the stored events of an account as a timeline", runHistory},
		{"diff", "[flags] USER T1 T2", "list the clients of an account that gained, changed or lost access between two times", runDiff},
		{"accounts", "--software NAME[/VERSION] [flags]", "list the accounts that have a client of a software", runAccounts},
		{"rebuild", "--verify [flags]", "replay the whole stream into a fresh view and compare it with the live service's view", runRebuild},
		{"forget", "--yes [flags] USER", "erase an account: purge its events and commands, drop it from every view and snapshot, keep a tombstone", runForget},
		{"export", "[flags] USER", "write the current clients and stored events of an account as JSON", runExport},
		{"settings", "[flags] [get NAME | set NAME VALUE]", "show or change the cluster-wide settings, such as enforce_client_ids", runSettings},
		{"simulate", "[flags]", "publish realistic traffic of several XMPP nodes and carry out their revoke commands", runSimulate},
		{"bench", "[flags]", "measure clientele against bare NATS baselines on an embedded server and print the ratios with their targets", runBench},
		{"version", "", "print the version", runVersion},
	}
}

// errUsage marks errors after which the command's usage was printed.
var errUsage = errors.New("usage")

func main() {
	env := &environment{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, lookupEnv: os.LookupEnv}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, env, os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes the command named by args[0] and returns the exit code.
func run(ctx context.Context, env *environment, args []string) int {
	if len(args) == 0 {
		usage(env.stderr)
		return exitUsage
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" || name == "-help" {
		usage(env.stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name != name {
			continue
		}
		err := c.run(ctx, env, args[1:])
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.Is(err, errUsage):
			return exitUsage
		case errors.Is(err, errReported):
			return exitFailure
		}
		fmt.Fprintf(env.stderr, "clientele %s: %v\n", name, err)
		return exitFailure
	}
	fmt.Fprintf(env.stderr, "clientele: unknown command %q\n\n", name)
	usage(env.stderr)
	return exitUsage
}

// errReported marks a failure whose details the command already printed.
var errReported = errors.New("failure reported")

func usage(w io.Writer) {
	fmt.Fprintln(w, "clientele tracks which clients have access to XMPP accounts.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: clientele COMMAND [flags] [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'clientele COMMAND --help' for the flags of a command. Every flag can")
	fmt.Fprintln(w, "also be set by an environment variable CLIENTELE_<FLAG>, such as")
	fmt.Fprintln(w, "CLIENTELE_NATS_URL for --nats-url; a flag overrides its variable.")
}

package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "0.0.0-devel"
}

func runVersion(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("version", env.stderr)
	if _, err := parseArgs(fs, env, args, 0, 0); err != nil {
		return err
	}
	_, err := fmt.Fprintf(env.stdout, "clientele %s %s/%s %s\n", buildVersion(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	return err
}

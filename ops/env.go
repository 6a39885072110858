package ops

import (
	"flag"
	"fmt"
	"strings"
)

// EnvPrefix starts the name of every environment variable of a flag.
const EnvPrefix = "CLIENTELE_"

// envFallbacks maps a flag to a second environment variable that is read
// when the flag's own variable is unset. NATS_URL is the variable of the
// NATS command-line tools.
var envFallbacks = map[string]string{
	"nats-url": "NATS_URL",
}

// EnvName returns the environment variable of a flag: EnvPrefix followed by
// the flag name in upper case with dashes turned into underscores, so
// nats-url becomes CLIENTELE_NATS_URL.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// ApplyEnv sets every flag of fs whose environment variable is set to a
// non-empty value, as read by lookup (os.LookupEnv in programs). Call it
// after registering the flags and before fs.Parse, so that a flag on the
// command line overrides its variable. A value that the flag rejects
// returns an error that wraps ErrInvalidConfig and names the variable, the
// value and the expected form. Every variable is checked and every error
// is returned.
func ApplyEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	var errs []string
	fs.VisitAll(func(f *flag.Flag) {
		name, value, ok := lookupFlagEnv(f.Name, lookup)
		if !ok {
			return
		}
		if err := fs.Set(f.Name, value); err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q: %v", name, value, err))
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(errs, "; "))
	}
	return nil
}

// lookupFlagEnv returns the variable that sets flagName and its value,
// trying the flag's own variable first and then its fallback.
func lookupFlagEnv(flagName string, lookup func(string) (string, bool)) (name, value string, ok bool) {
	names := []string{EnvName(flagName)}
	if fallback, found := envFallbacks[flagName]; found {
		names = append(names, fallback)
	}
	for _, name := range names {
		if value, set := lookup(name); set && value != "" {
			return name, value, true
		}
	}
	return "", "", false
}

// ParseFlags applies the environment variables of fs with ApplyEnv and
// then parses args, so flags override variables. Errors of ApplyEnv wrap
// ErrInvalidConfig. Errors of fs.Parse are returned unchanged, after fs
// handled them as its flag.ErrorHandling sets.
func ParseFlags(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) error {
	if err := ApplyEnv(fs, lookup); err != nil {
		return err
	}
	return fs.Parse(args)
}

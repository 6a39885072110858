package main

import (
	"flag"
	"fmt"
	"time"
)

// defaultIPMaxAge is the default of serve's --ip-max-age.
const defaultIPMaxAge = 7 * 24 * time.Hour

// retentionFlags are the flags of serve that limit how long personal
// fields of events are shown.
type retentionFlags struct {
	IPMaxAge time.Duration
}

func registerRetentionFlags(fs *flag.FlagSet) *retentionFlags {
	r := &retentionFlags{}
	fs.DurationVar(&r.IPMaxAge, "ip-max-age", defaultIPMaxAge, "age after which history and export leave out the IP address of an event, as a `duration` such as 168h; 0 leaves out every IP address. Stored events keep it until --max-age drops them")
	return r
}

func (r *retentionFlags) validate() error {
	if r.IPMaxAge < 0 {
		return fmt.Errorf("invalid --ip-max-age %s: expected 0 or a positive duration such as 168h", r.IPMaxAge)
	}
	return nil
}

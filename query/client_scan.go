package query

import (
	"context"
	"time"
)

// ScanTimeout bounds a request that reads the stream, such as History,
// when its context has no deadline. It exceeds the service's default
// Config.ScanTimeout so that the service's own error arrives first.
const ScanTimeout = defaultScanTimeout + 10*time.Second

// callScan calls subject like call, with ScanTimeout when ctx has no
// deadline.
func (c *Client) callScan(ctx context.Context, subject string, req, reply any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ScanTimeout)
		defer cancel()
	}
	return c.call(ctx, subject, req, reply)
}

package query

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
)

// Subjects of the audit endpoints, which any caller of the query service
// may reach. Each acts on one account.
const (
	HistorySubject      = SubjectPrefix + ".history"
	ClientsAtSubject    = SubjectPrefix + ".clients-at"
	DiffSubject         = SubjectPrefix + ".diff"
	RevokeOthersSubject = SubjectPrefix + ".revoke-others"
)

// Subjects of the admin endpoints. They act across accounts or erase one,
// so NATS permissions should let only administrators publish to
// AdminSubjectPrefix.
const (
	AdminSubjectPrefix    = "clientele.admin"
	AccountsSubject       = AdminSubjectPrefix + ".accounts"
	RevokeSoftwareSubject = AdminSubjectPrefix + ".revoke-software"
	ForgetSubject         = AdminSubjectPrefix + ".forget"
	ViewsSubject          = AdminSubjectPrefix + ".views"
)

// maxConcurrentScans bounds the requests per service that read the stream
// or walk every account at the same time; more wait for a free slot.
const maxConcurrentScans = 4

// defaultScanTimeout is Config.ScanTimeout when it is 0.
const defaultScanTimeout = 2 * time.Minute

// maxReplyBytes bounds the encoded size of a paged reply, well below the
// 1 MiB default maximum payload of a NATS server.
const maxReplyBytes = 512 << 10

func (cfg Config) withAuditDefaults() (Config, error) {
	if cfg.HeartbeatTimeout == 0 {
		cfg.HeartbeatTimeout = 2 * time.Minute
	}
	if cfg.ScanTimeout <= 0 {
		cfg.ScanTimeout = defaultScanTimeout
	}
	if cfg.IPMaxAge < 0 {
		return cfg, fmt.Errorf("query: IPMaxAge %s: expected 0 or a positive duration", cfg.IPMaxAge)
	}
	if cfg.JS == nil {
		js, err := jetstream.New(cfg.NC)
		if err != nil {
			return cfg, fmt.Errorf("query: jetstream: %w", err)
		}
		cfg.JS = js
	}
	return cfg, nil
}

// addAuditEndpoints registers the history, past view, diff, revoke-others
// and admin endpoints. Every one of them runs on its own goroutine, because
// it reads the stream, walks every account or waits for acknowledgements.
func (s *Service) addAuditEndpoints(svc micro.Service) error {
	query := svc.AddGroup(SubjectPrefix)
	admin := svc.AddGroup(AdminSubjectPrefix)
	endpoints := []struct {
		group   micro.Group
		name    string
		handler func(ctx context.Context, req micro.Request) (any, error)
		scan    bool
	}{
		{query, "history", s.handleHistory, true},
		{query, "clients-at", s.handleClientsAt, true},
		{query, "diff", s.handleDiff, true},
		{query, "revoke-others", s.afterCatchUp(s.handleRevokeOthers), false},
		{admin, "accounts", s.afterCatchUp(s.handleAccounts), true},
		{admin, "revoke-software", s.afterCatchUp(s.handleRevokeSoftware), true},
		{admin, "forget", s.handleForget, true},
		{admin, "views", s.afterCatchUp(s.handleViews), true},
	}
	for _, ep := range endpoints {
		h := s.asyncHandler(ep.name, ep.scan, ep.handler)
		if err := ep.group.AddEndpoint(ep.name, h); err != nil {
			return fmt.Errorf("query: add %s endpoint: %w", ep.name, err)
		}
	}
	return nil
}

// asyncHandler runs handle on its own goroutine with a deadline, and
// replies with its result or error. A scan waits for one of the
// maxConcurrentScans slots and gets ScanTimeout instead of Timeout.
func (s *Service) asyncHandler(op string, scan bool, handle func(ctx context.Context, req micro.Request) (any, error)) micro.Handler {
	return micro.HandlerFunc(func(req micro.Request) {
		go func() {
			start := time.Now()
			defer func() {
				if p := recover(); p != nil {
					s.log.Error("request handler panicked", "op", op, "panic", p)
					s.fail(req, op, start, fmt.Errorf("%w: %s failed with an internal error; see the service log", ErrUnavailable, op))
				}
			}()
			timeout := s.cfg.Timeout
			if scan {
				timeout = s.cfg.ScanTimeout
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			if scan {
				select {
				case s.scans <- struct{}{}:
					defer func() { <-s.scans }()
				case <-ctx.Done():
					s.fail(req, op, start, fmt.Errorf("%w: %s waited in vain for one of the %d slots of requests that read the stream; retry later", ErrTimeout, op, maxConcurrentScans))
					return
				}
			}
			reply, err := handle(ctx, req)
			if err != nil {
				s.fail(req, op, start, err)
				return
			}
			s.respond(req, op, start, reply)
		}()
	})
}

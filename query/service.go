package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
)

// Subjects of the query service endpoints.
const (
	SubjectPrefix = "clientele.query"
	ListSubject   = SubjectPrefix + ".list"
	RevokeSubject = SubjectPrefix + ".revoke"
	// QueueGroup is the queue group that replicas of the service share.
	QueueGroup = "clientele"
)

// Service error codes, in the Nats-Service-Error-Code header.
const (
	codeBadRequest  = "400"
	codeNotFound    = "404"
	codeUnavailable = "503"
	codeTimeout     = "504"
)

// MaxRequestSize is the largest request body the service accepts.
const MaxRequestSize = 16 << 10

// Views is the source of the views that the service reads and waits on.
// *projector.Runner implements it.
type Views interface {
	Clients(user string) ([]projector.ClientView, uint64)
	Resolve(user, selector string) []projector.Target
	WaitApplied(ctx context.Context, seq uint64) error
	// WaitReady blocks until the view has applied the stream as it was
	// when the view started, or ctx ends.
	WaitReady(ctx context.Context) error
	// Accounts, ClientsOf and Snapshot serve the admin endpoints.
	Accounts() []string
	ClientsOf(users []string, now time.Time) ([][]projector.ClientView, uint64, projector.ViewOptions)
	Snapshot(ctx context.Context) error
}

// Config sets up a Service. NC, Views and Publisher are required.
type Config struct {
	NC        *nats.Conn
	Views     Views
	Publisher *events.Publisher
	Logger    *slog.Logger
	Metrics   *Metrics
	// Revokes tracks each revoke until the nodes confirm it. When nil, no
	// revoke is tracked.
	Revokes *RevokeTracker
	// Node is the node id written on the events the service appends; empty
	// means "clientele".
	Node string
	// Version is reported by the micro service's info endpoint.
	Version string
	// Timeout bounds the work for one request; 0 means five seconds.
	Timeout time.Duration
	// MaxConcurrentRevokes bounds the revokes in progress at once. A revoke
	// beyond it gets an ErrUnavailable reply at once. 0 means 256.
	MaxConcurrentRevokes int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// JS reads and purges the streams for history, past views and erasure;
	// nil means a JetStream context on NC.
	JS jetstream.JetStream
	// HeartbeatTimeout is the projector's heartbeat timeout, which views at
	// past times apply as well; 0 means two minutes and a negative value
	// disables it.
	HeartbeatTimeout time.Duration
	// IPMaxAge is the age after which history and export leave out the IP
	// address of an event; 0 leaves out every IP address.
	IPMaxAge time.Duration
	// ScanTimeout bounds the work for one request that reads the stream,
	// such as history, a past view or forget; 0 means two minutes.
	ScanTimeout time.Duration
}

// Service handles list and revoke requests on NATS.
type Service struct {
	cfg Config
	log *slog.Logger
	svc micro.Service
	// scans limits the requests that read the stream at the same time.
	scans chan struct{}
	// revokeSlots limits the revokes in progress at the same time.
	revokeSlots chan struct{}
}

// Start registers the service's endpoints and returns at once. Stop ends it.
func Start(cfg Config) (*Service, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: cfg.Logger, scans: make(chan struct{}, maxConcurrentScans),
		revokeSlots: make(chan struct{}, cfg.MaxConcurrentRevokes)}

	svc, err := micro.AddService(cfg.NC, micro.Config{
		Name:        "clientele",
		Version:     cfg.Version,
		Description: "lists and revokes the clients of XMPP accounts",
		QueueGroup:  QueueGroup,
	})
	if err != nil {
		return nil, fmt.Errorf("query: add service: %w", err)
	}
	if err := s.addEndpoints(svc); err != nil {
		svc.Stop()
		return nil, err
	}
	s.svc = svc
	return s, nil
}

// withDefaults returns cfg with its zero fields set to their defaults.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Node == "" {
		cfg.Node = "clientele"
	}
	if cfg.Version == "" {
		cfg.Version = "0.0.0"
	}
	if cfg.MaxConcurrentRevokes <= 0 {
		cfg.MaxConcurrentRevokes = 256
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg.withAuditDefaults()
}

// addEndpoints registers list, revoke and the audit and admin endpoints.
func (s *Service) addEndpoints(svc micro.Service) error {
	g := svc.AddGroup(SubjectPrefix)
	if err := g.AddEndpoint("list", micro.HandlerFunc(s.handleList)); err != nil {
		return fmt.Errorf("query: add list endpoint: %w", err)
	}
	if err := g.AddEndpoint("revoke", micro.HandlerFunc(s.startRevoke)); err != nil {
		return fmt.Errorf("query: add revoke endpoint: %w", err)
	}
	return s.addAuditEndpoints(svc)
}

// Stop drains the service's subscriptions. It is safe to call more than once.
func (s *Service) Stop() error {
	if s.svc.Stopped() {
		return nil
	}
	return s.svc.Stop()
}

func (s *Service) handleList(req micro.Request) {
	start := time.Now()
	var r ListRequest
	user, err := s.decode(req, &r, &r.User)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
		err = s.waitView(ctx, r.MinSeq)
		cancel()
	}
	if err != nil {
		s.fail(req, "list", start, err)
		return
	}
	clients, seq := s.cfg.Views.Clients(user)
	s.respond(req, "list", start, ListReply{User: user, Clients: clients, Seq: seq})
}

// waitView waits until the local view has caught up with the stream and
// applied minSeq. A replica that restarts replays the stream before its
// view is complete, and must not reply from a partial view meanwhile.
func (s *Service) waitView(ctx context.Context, minSeq uint64) error {
	if err := s.cfg.Views.WaitReady(ctx); err != nil {
		return fmt.Errorf("%w: this replica is still replaying the event stream (%v); retry once its /readyz returns 200", ErrUnavailable, err)
	}
	if minSeq == 0 {
		return nil
	}
	if err := s.cfg.Views.WaitApplied(ctx, minSeq); err != nil {
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	return nil
}

// afterCatchUp returns handle preceded by waitView, for the endpoints that
// read the view.
func (s *Service) afterCatchUp(handle func(context.Context, micro.Request) (any, error)) func(context.Context, micro.Request) (any, error) {
	return func(ctx context.Context, req micro.Request) (any, error) {
		if err := s.waitView(ctx, 0); err != nil {
			return nil, err
		}
		return handle(ctx, req)
	}
}

// decode parses a request body into v and returns the normalised user that
// *user points to after parsing.
func (s *Service) decode(req micro.Request, v any, user *string) (string, error) {
	if len(req.Data()) > MaxRequestSize {
		return "", fmt.Errorf("%w: request of %d bytes exceeds %d", ErrBadRequest, len(req.Data()), MaxRequestSize)
	}
	if err := json.Unmarshal(req.Data(), v); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	u, err := events.NormaliseUser(*user)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	*user = u
	return u, nil
}

func (s *Service) respond(req micro.Request, op string, start time.Time, reply any) {
	if err := req.RespondJSON(reply); err != nil {
		s.log.Error("reply failed", "op", op, "error", err)
		s.cfg.Metrics.observe(op, outcomeError, start)
		return
	}
	s.cfg.Metrics.observe(op, outcomeOK, start)
}

func (s *Service) fail(req micro.Request, op string, start time.Time, err error) {
	code, outcome, sentinel := codeUnavailable, outcomeError, ErrUnavailable
	switch {
	case errors.Is(err, ErrBadRequest):
		code, outcome, sentinel = codeBadRequest, outcomeBadRequest, ErrBadRequest
	case errors.Is(err, ErrNotFound):
		code, outcome, sentinel = codeNotFound, outcomeNotFound, ErrNotFound
	case errors.Is(err, ErrTimeout):
		code, outcome, sentinel = codeTimeout, outcomeTimeout, ErrTimeout
	}
	if outcome == outcomeError || outcome == outcomeTimeout {
		s.log.Warn("request failed", "op", op, "error", err)
	}
	// The client wraps the description in the sentinel again.
	desc := strings.TrimPrefix(err.Error(), sentinel.Error()+": ")
	if rerr := req.Error(code, desc, nil); rerr != nil {
		s.log.Error("error reply failed", "op", op, "error", rerr)
	}
	s.cfg.Metrics.observe(op, outcome, start)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops"
	"github.com/clientele-xmpp/clientele/projector"
	"github.com/clientele-xmpp/clientele/query"
)

func runServe(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("serve", env.stderr)
	cfg := ops.DefaultConfig()
	cfg.RegisterFlags(fs)
	xcfg := registerXMPPFlags(fs)
	icfg := registerIngestFlags(fs)
	rcfg := registerRetentionFlags(fs)
	if _, err := parseArgs(fs, env, args, 0, 0); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger, err := ops.NewLogger(env.stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	if err := xcfg.validate(); err != nil {
		return err
	}
	if err := icfg.validate(); err != nil {
		return err
	}
	if err := rcfg.validate(); err != nil {
		return err
	}
	return serve(ctx, cfg, xcfg, icfg, rcfg, logger)
}

// service holds the parts of a running serve, for an ordered shutdown.
type service struct {
	embedded *ops.Embedded
	nc       *nats.Conn
	js       jetstream.JetStream
	runner   *projector.Runner
	query    *query.Service
	registry *prometheus.Registry
	metrics  *query.Metrics
}

func serve(ctx context.Context, cfg ops.Config, xcfg *xmppFlags, icfg *ingestFlags, rcfg *retentionFlags, logger *slog.Logger) error {
	s := &service{}
	sm := newServeMetrics(s.ready)
	s.registry, s.metrics = sm.registry, sm.query
	defer s.close(logger)

	if err := s.connect(ctx, cfg, logger); err != nil {
		return err
	}
	sm.nats.Watch(s.nc)
	opts := events.StreamOptions{Replicas: cfg.Replicas, MaxAge: cfg.MaxAge}
	if err := events.EnsureStreams(ctx, s.js, opts); err != nil {
		return err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The node interface starts before the projector, so that a bad token
	// file ends serve before anything else runs.
	ingestDone, err := startNodeInterface(runCtx, icfg, s, cfg.Replicas, logger.With("component", "ingest"))
	if err != nil {
		return err
	}

	revokes := query.NewRevokeTracker(query.RevokeTrackerConfig{Metrics: sm.query})
	s.runner = projector.NewRunner(projector.Config{
		JS: s.js, Logger: logger.With("component", "projector"), Metrics: sm.projector,
		SnapshotInterval: cfg.SnapshotInterval, HeartbeatTimeout: cfg.HeartbeatTimeout, Replicas: cfg.Replicas,
		OnApply: revokes.Applied,
	})
	runnerDone := make(chan error, 1)
	go func() { runnerDone <- s.runner.Run(runCtx) }()

	svc, err := query.Start(query.Config{
		NC: s.nc, Views: s.runner, Publisher: events.NewPublisher(s.js, events.PublisherOptions{}),
		Logger: logger.With("component", "query"), Metrics: s.metrics, Revokes: revokes, Version: buildVersion(),
		JS: s.js, HeartbeatTimeout: cfg.HeartbeatTimeout, IPMaxAge: rcfg.IPMaxAge,
	})
	if err != nil {
		return err
	}
	s.query = svc

	httpDone := make(chan error, 1)
	handler := ops.NewHTTPHandler(s.registry, s.ready)
	go func() { httpDone <- ops.ServeHTTP(runCtx, cfg.HTTPListen, handler, logger.With("component", "http")) }()

	xmppDone := make(chan error, 1)
	if xcfg.enabled() {
		go func() { xmppDone <- runXMPP(runCtx, xcfg, s, logger.With("component", "xmpp")) }()
	}

	logger.Info("clientele serving", "version", buildVersion(), "nats", s.nc.ConnectedUrl(), "http", cfg.HTTPListen, "xmpp", xcfg.Component)
	return s.wait(ctx, cancel, runnerDone, httpDone, xmppDone, ingestDone, logger)
}

// wait blocks until ctx ends or a part fails, then stops the query service
// and waits for the projector's final snapshot.
func (s *service) wait(ctx context.Context, cancel context.CancelFunc, runnerDone, httpDone, xmppDone, ingestDone chan error, logger *slog.Logger) error {
	var err error
	select {
	case <-ctx.Done():
		logger.Info("clientele stopping")
	case err = <-runnerDone:
		err = fmt.Errorf("projector stopped: %w", err)
		runnerDone <- nil
	case err = <-httpDone:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			err = fmt.Errorf("http: %w", err)
		}
	case err = <-xmppDone:
		err = fmt.Errorf("xmpp component stopped: %w", err)
	case err = <-ingestDone:
		err = fmt.Errorf("node interface stopped: %w", err)
	}
	if s.query != nil {
		s.query.Stop()
		s.query = nil
	}
	cancel()
	select {
	case rerr := <-runnerDone:
		if rerr != nil && err == nil {
			err = rerr
		}
	case <-time.After(time.Minute):
		logger.Error("projector did not stop within a minute")
	}
	return err
}

func (s *service) connect(ctx context.Context, cfg ops.Config, logger *slog.Logger) error {
	var err error
	if cfg.UseEmbedded() {
		s.embedded, err = ops.StartEmbedded(ctx, cfg.EmbeddedConfig(logger))
		if err != nil {
			return err
		}
		s.nc, err = s.embedded.Connect(ctx, "clientele serve", logger.With("component", "nats"))
	} else {
		s.nc, err = ops.Connect(ctx, cfg.NATS, logger.With("component", "nats"))
	}
	if err != nil {
		return err
	}
	s.js, err = jetstream.New(s.nc)
	return err
}

// ready reports whether the service serves current views: NATS is
// connected and the projector caught up with the stream as it was at start.
func (s *service) ready() error {
	if s.nc == nil || !s.nc.IsConnected() {
		return errors.New("nats not connected")
	}
	if s.runner == nil {
		return errors.New("projector not started")
	}
	return s.runner.Ready()
}

func (s *service) close(logger *slog.Logger) {
	if s.query != nil {
		s.query.Stop()
	}
	if s.nc != nil {
		if err := s.nc.Drain(); err != nil {
			s.nc.Close()
		}
	}
	if s.embedded != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.embedded.Shutdown(ctx); err != nil {
			logger.Error("embedded nats-server shutdown failed", "error", err)
		}
	}
}

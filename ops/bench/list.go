package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/ops/simulate"
	"github.com/clientele-xmpp/clientele/query"
)

// echoSubject is the subject of the bare request-reply baseline.
const echoSubject = "bench.echo"

// requestTimeout bounds every request of a measurement.
const requestTimeout = 10 * time.Second

// warmUpRequests are sent before timing, to fill connection buffers and
// caches.
const warmUpRequests = 100

// startQuery starts the query service on the restarted projector, with a
// connection of its own, and an echo responder on the same connection.
func (env *environment) startQuery(ctx context.Context) (*query.Service, error) {
	nc, err := env.connect("bench query service")
	if err != nil {
		return nil, err
	}
	js, err := env.connectJS("bench query publisher")
	if err != nil {
		return nil, err
	}
	if _, err := nc.Subscribe(echoSubject, func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		return nil, fmt.Errorf("bench: echo responder: %w", err)
	}
	svc, err := query.Start(query.Config{
		NC: nc, Views: env.runner, Publisher: events.NewPublisher(js, events.PublisherOptions{}),
		Logger: env.cfg.Logger.With("component", "query"),
	})
	if err != nil {
		return nil, err
	}
	return svc, nc.FlushTimeout(requestTimeout)
}

// measureList alternates list requests for random accounts of the stream
// with echo requests of the same request body, one at a time, and compares
// their latency percentiles.
func (env *environment) measureList(ctx context.Context) ([]Result, error) {
	res := Result{
		Name: MeasureList, Title: "list p99 over NATS vs bare request-reply echo", Unit: "ms",
		Target: Target{Figure: "ratio", Op: "<=", Value: 1.5},
	}
	svc, err := env.startQuery(ctx)
	if err != nil {
		return nil, err
	}
	defer svc.Stop()
	client := query.NewClient(env.client)
	rng := rand.New(rand.NewPCG(env.cfg.Seed, 3))

	var list, echo latencies
	listed := 0
	total := env.cfg.Requests + warmUpRequests
	for i := range total {
		if i%1000 == 0 {
			env.cfg.Progress(Progress{Measurement: MeasureList, Step: "list and echo requests", Done: i, Total: total})
		}
		user := "user" + strconv.Itoa(1+rng.IntN(env.cfg.Users)) + "@" + simulate.DefaultDomain
		body := []byte(`{"user":"` + user + `"}`)

		start := time.Now()
		if _, err := env.client.Request(echoSubject, body, requestTimeout); err != nil {
			return nil, fmt.Errorf("bench: echo request: %w", err)
		}
		echoTook := time.Since(start)

		start = time.Now()
		reply, err := client.List(ctx, query.ListRequest{User: user})
		if err != nil {
			return nil, fmt.Errorf("bench: list %s: %w", user, err)
		}
		listTook := time.Since(start)

		if i >= warmUpRequests {
			echo, list = append(echo, echoTook), append(list, listTook)
			listed += len(reply.Clients)
		}
	}
	details := map[string]float64{
		"requests":         float64(len(list)),
		"clients_per_list": float64(listed) / float64(max(len(list), 1)),
		"list_p999_ms":     milliseconds(list.percentile(99.9)),
		"echo_p999_ms":     milliseconds(echo.percentile(99.9)),
	}
	return latencyResults(res, list, echo, details), nil
}

// latencyResults returns res filled with the 99th percentiles of measured
// and baseline, and before it a result without target for their medians.
func latencyResults(res Result, measured, baseline latencies, details map[string]float64) []Result {
	median := Result{
		Name: res.Name + "-p50", Title: strings.ReplaceAll(res.Title, "p99", "p50"), Unit: res.Unit,
		Clientele: milliseconds(measured.percentile(50)), Baseline: milliseconds(baseline.percentile(50)),
	}
	median.judge(false)
	res.Clientele, res.Baseline = milliseconds(measured.percentile(99)), milliseconds(baseline.percentile(99))
	res.Details = details
	res.judge(false)
	return []Result{median, res}
}

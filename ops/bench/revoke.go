package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/query"
)

// warmUpRevokes are carried out before timing.
const warmUpRevokes = 10

// measureRevoke gives each of cfg.Revokes accounts one client with an
// OAuth grant, then for each account alternates a synchronous JetStream
// publish of a grant.used event with a revoke of its client over the query
// service, and compares their latency percentiles. A revoke replies after
// JetStream stored its event and command and the projector applied the
// event.
func (env *environment) measureRevoke(ctx context.Context) ([]Result, error) {
	res := Result{
		Name: MeasureRevoke, Title: "revoke p99 vs JetStream sync publish p99", Unit: "ms",
		Target: Target{Figure: "ratio", Op: "<=", Value: 4},
	}
	svc, err := env.startQuery(ctx)
	if err != nil {
		return nil, err
	}
	defer svc.Stop()
	n := env.cfg.Revokes + warmUpRevokes
	ids, err := env.revokeFixture(ctx, n)
	if err != nil {
		return nil, err
	}
	client := query.NewClient(env.client)

	var revoke, publish latencies
	for i := range n {
		if i%100 == 0 {
			env.cfg.Progress(Progress{Measurement: MeasureRevoke, Step: "revokes and sync publishes", Done: i, Total: n})
		}
		msgs, _, err := encodeAll([]*events.Event{revokeFixtureEvent(i, events.GrantUsed)})
		if err != nil {
			return nil, err
		}
		start := time.Now()
		if _, err := env.clientJS.PublishMsg(ctx, msgs[0]); err != nil {
			return nil, fmt.Errorf("bench: sync publish: %w", err)
		}
		publishTook := time.Since(start)

		start = time.Now()
		reply, err := client.Revoke(ctx, query.RevokeRequest{User: revokeUser(i), Selector: ids[i]})
		if err != nil {
			return nil, fmt.Errorf("bench: revoke %s of %s: %w", ids[i], revokeUser(i), err)
		}
		revokeTook := time.Since(start)
		if len(reply.Revoked) != 1 {
			return nil, fmt.Errorf("bench: revoke %s of %s revoked %d clients, want 1", ids[i], revokeUser(i), len(reply.Revoked))
		}
		if i >= warmUpRevokes {
			revoke, publish = append(revoke, revokeTook), append(publish, publishTook)
		}
	}
	details := map[string]float64{"revokes": float64(len(revoke))}
	return latencyResults(res, revoke, publish, details), nil
}

func revokeUser(i int) string { return fmt.Sprintf("revoke%d@bench.test", i) }

// revokeFixtureEvent returns an event of type t about the grant of the
// client of revokeUser(i).
func revokeFixtureEvent(i int, t events.Type) *events.Event {
	return &events.Event{
		ID: events.NewID(), Type: t, V: events.Version, Time: time.Now().UTC(), Node: "bench", User: revokeUser(i),
		Client: &events.Client{ID: fmt.Sprintf("bench-client-%d", i), Software: "Bench", Version: "1.0"},
		Grant:  &events.Grant{ID: fmt.Sprintf("bench-grant-%d", i), Name: "Bench", Permission: events.PermissionNormal},
	}
}

// revokeFixture issues a grant to one client of each of n accounts, waits
// until the projector applied them, and returns the listing id of each
// account's client.
func (env *environment) revokeFixture(ctx context.Context, n int) ([]string, error) {
	env.cfg.Progress(Progress{Measurement: MeasureRevoke, Step: "issue grants", Total: n})
	evs := make([]*events.Event, n)
	for i := range evs {
		evs[i] = revokeFixtureEvent(i, events.GrantIssued)
	}
	results, err := events.NewPublisher(env.clientJS, events.PublisherOptions{}).PublishBatch(ctx, evs)
	if err != nil {
		return nil, err
	}

	var last uint64
	for i, r := range results {
		if r.Err != nil {
			return nil, fmt.Errorf("bench: issue grant %d: %w", i, r.Err)
		}
		last = max(last, r.Seq)
	}
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := env.runner.WaitApplied(wait, last); err != nil {
		return nil, err
	}

	ids := make([]string, n)
	for i := range ids {
		clients, _ := env.runner.Clients(revokeUser(i))
		if len(clients) != 1 {
			return nil, fmt.Errorf("bench: %s has %d clients after its grant was applied, want 1", revokeUser(i), len(clients))
		}
		ids[i] = clients[0].ID
	}
	return ids, nil
}

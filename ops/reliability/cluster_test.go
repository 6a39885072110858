package reliability_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/query"
)

// cluster is three nats-servers on loopback that form one JetStream
// cluster.
type cluster struct {
	servers []*natsServer
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	peers := []clusterPeer{{"n1", freePort(t)}, {"n2", freePort(t)}, {"n3", freePort(t)}}
	c := &cluster{}
	for _, p := range peers {
		c.servers = append(c.servers, newNATSServer(t, p.name, p, peers))
	}
	for _, s := range c.servers {
		s.start()
	}
	for _, s := range c.servers {
		s.waitHealthy()
	}
	return c
}

func (c *cluster) urls() string {
	var urls []string
	for _, s := range c.servers {
		urls = append(urls, s.url())
	}
	return strings.Join(urls, ",")
}

func (c *cluster) server(name string) *natsServer {
	for _, s := range c.servers {
		if s.name == name {
			return s
		}
	}
	return nil
}

// streamLeader returns the name of the event stream's leader and its
// followers, waiting until the stream has a leader and two current
// followers.
func streamLeader(t *testing.T, ctx context.Context, js jetstream.JetStream) (leader string, followers []string) {
	t.Helper()
	err := eventually(ctx, 30*time.Second, func(ctx context.Context) error {
		stream, err := js.Stream(ctx, events.StreamName)
		if err != nil {
			return err
		}
		info, err := stream.Info(ctx)
		if err != nil {
			return err
		}
		if info.Cluster == nil || info.Cluster.Leader == "" {
			return errors.New("event stream has no leader")
		}
		followers = followers[:0]
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return fmt.Errorf("replica %s of the event stream is not current", r.Name)
			}
			followers = append(followers, r.Name)
		}
		if len(followers) != 2 {
			return fmt.Errorf("event stream has %d followers, want 2", len(followers))
		}
		leader = info.Cluster.Leader
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return leader, followers
}

// TestClusterFailover runs two clientele replicas with --replicas 3 on a
// three-node JetStream cluster while `clientele simulate` and a tracked
// node publish. It kills a follower of the event stream, then its leader,
// each with SIGKILL and each started again, once or, in the long variant,
// five times, and then kills one replica.
// No acknowledged event may be lost, both replicas must list what a replay
// of the stream lists, and the surviving replica must reply to every query.
func TestClusterFailover(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t)
	flags := []string{"--nats-url", c.urls(), "--replicas", "3", "--snapshot-interval", "1s"}
	replicas := []*serveProcess{newServe(t, "clientele-a", flags...), newServe(t, "clientele-b", flags...)}
	for _, r := range replicas {
		r.startReady()
	}

	sim := newProcess(t, "simulate", buildBinaries(t).clientele, "simulate", "--nats-url", c.urls(), "--domain", "sim.test",
		"--users", "20", "--rate", "200", "--duration", "1h", "--serve", "--quiet", "--seed", "5")
	sim.start()
	nc, js := connect(t, c.urls())
	simulatedBefore := waitSimulating(t, ctx, js, sim, "sim.test", 200)

	const domain = "track.test"
	users := userNames(20, domain)
	tr := newTracker(js, newGenerator(t, 17, 3, len(users), domain),
		events.PublisherOptions{Retries: 1, Backoff: 20 * time.Millisecond, AckTimeout: time.Second})
	pub := startPublishing(ctx, tr, 10, 20*time.Millisecond)
	queries := startQuerying(ctx, query.NewClient(nc), users)

	rounds := 1
	if longRun() {
		rounds = 5
	}
	for range rounds {
		_, followers := streamLeader(t, ctx, js)
		failover(t, ctx, c, js, followers[0], "a follower of the event stream")
		leader, _ := streamLeader(t, ctx, js)
		failover(t, ctx, c, js, leader, "the leader of the event stream")
		if newLeader, _ := streamLeader(t, ctx, js); newLeader == leader {
			t.Errorf("the event stream kept its killed leader %s", leader)
		}
	}
	failedDuringFailover := queries.stop()
	simulatedDuring := waitSimulating(t, ctx, js, sim, "sim.test", simulatedBefore+200)

	if err := sim.stop(); err != nil {
		t.Errorf("simulate after SIGTERM: %v", err)
	}
	simulated := simulatedCount(t, sim)
	if err := pub.stop(); err != nil {
		t.Fatal(err)
	}
	drainCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := tr.drain(drainCtx); err != nil {
		t.Fatal(err)
	}

	m := newMirror()
	if err := m.catchUp(ctx, js); err != nil {
		t.Fatal(err)
	}
	lost, twice := tr.check(m)
	for _, id := range lost {
		t.Errorf("acknowledged event lost: %s", id)
	}
	// Both publishers write the events of their generated histories, and
	// simulate also heartbeats, which it leaves out of its count.
	if stored, acked := len(m.copies)-m.heartbeats, simulated+len(tr.acked); stored != acked {
		t.Errorf("the stream stores %d events besides heartbeats, and the publishers report %d acknowledged", stored, acked)
	}

	allUsers := append(userNames(20, "sim.test"), users...)
	for _, r := range replicas {
		waitAppliedMetric(t, r, m.applied, 90*time.Second)
		if got, want := metricValue(t, r, "clientele_events_applied_total"), float64(m.applied)-float64(m.rejected); got != want {
			t.Errorf("%s applied %v events, want each of the %v stored events once", r.name, got, want)
		}
	}
	compared := compareReplicas(t, ctx, c, replicas, m, allUsers)

	// One replica dies, and the other must reply to every query from now on.
	survivor := query.NewClient(nc)
	queries = startQuerying(ctx, survivor, allUsers)
	time.Sleep(200 * time.Millisecond)
	replicas[1].kill()
	killedAt := time.Now()
	time.Sleep(2 * time.Second)
	failedAroundKill := queries.stopAfter(killedAt.Add(500 * time.Millisecond))
	if failedAroundKill.after > 0 {
		t.Errorf("%d of %d queries failed after clientele-b was killed: %v", failedAroundKill.after, failedAroundKill.total, failedAroundKill.last)
	}
	divergent, err := compareService(ctx, survivor, m, allUsers)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range divergent {
		t.Errorf("surviving replica: views differ from a replay for %s", d)
	}

	t.Logf("cluster failover: %d rounds; simulate stored %d events before the failovers and %d after them; "+
		"%d events of simulate and %d tracked events acknowledged (%d failed publishes retried), %d lost, %d stored twice; "+
		"%d of %d queries failed during the NATS failovers; %d views compared on both replicas, %d divergent; "+
		"%d of %d queries failed in the 500ms after a replica was killed, %d after",
		rounds, simulatedBefore, simulatedDuring, simulated, len(tr.acked), tr.failures, len(lost), len(twice), failedDuringFailover.failed, failedDuringFailover.total,
		compared, len(divergent), failedAroundKill.failed-failedAroundKill.after, failedAroundKill.total, failedAroundKill.after)
}

// waitSimulating waits until the stream stores min events of the accounts
// of domain, which simulate publishes once it has created its command
// consumers, and returns their count.
func waitSimulating(t *testing.T, ctx context.Context, js jetstream.JetStream, sim *process, domain string, min int) int {
	t.Helper()
	domainKey, _ := events.UserKeys("user1@" + domain)
	filter := events.UserSubjectPrefix + "." + domainKey + ".>"
	count := 0
	err := eventually(ctx, 60*time.Second, func(ctx context.Context) error {
		if !sim.running() {
			return errors.New("simulate exited")
		}
		stream, err := js.Stream(ctx, events.StreamName)
		if err != nil {
			return err
		}
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter(filter))
		if err != nil {
			return err
		}
		count = 0
		for _, n := range info.State.Subjects {
			count += int(n)
		}
		if count < min {
			return fmt.Errorf("the stream stores %d events of %s", count, domain)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("simulate is not publishing: %v\n%s", err, sim.logTail(10))
	}
	return count
}

// failover kills the named server with SIGKILL and waits two seconds, and
// when it led the event stream, until another server leads it. Then it
// starts the server again and waits until it is healthy and the event
// stream has a leader and two current followers.
func failover(t *testing.T, ctx context.Context, c *cluster, js jetstream.JetStream, name, role string) {
	t.Helper()
	s := c.server(name)
	if s == nil {
		t.Fatalf("no server named %q", name)
	}
	start := time.Now()
	s.kill()
	time.Sleep(2 * time.Second)

	err := eventually(ctx, 30*time.Second, func(ctx context.Context) error {
		stream, err := js.Stream(ctx, events.StreamName)
		if err != nil {
			return err
		}
		info, err := stream.Info(ctx)
		if err != nil {
			return err
		}
		if info.Cluster == nil || info.Cluster.Leader == "" || info.Cluster.Leader == name {
			return fmt.Errorf("the event stream is led by %q", info.Cluster.Leader)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after killing %s (%s): %v", name, role, err)
	}
	elected := time.Since(start)

	s.start()
	s.waitHealthy()
	streamLeader(t, ctx, js)
	t.Logf("killed %s (%s): the stream had a leader after %s, all replicas current after %s",
		name, role, elected.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// simulatedCount returns the count of acknowledged events that simulate
// printed when it stopped.
func simulatedCount(t *testing.T, sim *process) int {
	t.Helper()
	match := regexp.MustCompile(`published (\d+) events`).FindSubmatch(sim.logSince(0))
	if match == nil {
		t.Fatalf("simulate printed no summary:\n%s", sim.logTail(20))
	}
	n, _ := strconv.Atoi(string(match[1]))
	return n
}

// compareReplicas lists every user through connections to each server of
// the cluster, which the queue group spreads over both replicas, until both
// replicas replied for that user, and compares each reply with the replay.
// The /metrics counters of the replicas tell which one replied.
func compareReplicas(t *testing.T, ctx context.Context, c *cluster, replicas []*serveProcess, m *mirror, users []string) int {
	t.Helper()
	var clients []*query.Client
	for _, s := range c.servers {
		nc, err := nats.Connect(s.url())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		clients = append(clients, query.NewClient(nc))
	}
	compared := 0
	for _, user := range users {
		answered := make([]bool, len(replicas))
		for try := 0; try < 30 && !(answered[0] && answered[1]); try++ {
			before := listCounts(t, replicas)
			reply, err := clients[try%len(clients)].List(ctx, query.ListRequest{User: user, MinSeq: m.applied})
			if err != nil {
				t.Fatalf("list %s: %v", user, err)
			}
			after := listCounts(t, replicas)
			for i := range replicas {
				if after[i] > before[i] {
					answered[i] = true
				}
			}
			if reply.Seq != m.applied {
				t.Fatalf("list %s: a replica applied sequence %d, the replay %d", user, reply.Seq, m.applied)
			}
			if got, want := mustJSON(reply.Clients), clientsJSON(m.state, user, wallClockViews()); got != want {
				t.Errorf("replica views of %s differ from a replay:\nreplica: %s\nreplay:  %s", user, got, want)
			}
			compared++
		}
		if !answered[0] || !answered[1] {
			t.Errorf("list %s: 30 requests did not reach both replicas (answered %v)", user, answered)
		}
	}
	return compared
}

// waitAppliedMetric waits until the projector of r reports on /metrics that
// it applied sequence seq, and logs how long that took.
func waitAppliedMetric(t *testing.T, r *serveProcess, seq uint64, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	var applied float64
	for time.Since(start) < timeout {
		applied = metricValue(t, r, "clientele_projector_applied_sequence")
		if applied >= float64(seq) {
			t.Logf("%s applied sequence %d after %s", r.name, seq, time.Since(start).Round(time.Millisecond))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s applied sequence %v of %d after %s", r.name, applied, seq, timeout)
}

// metricValue returns the sum of the samples of the metric name on the
// /metrics page of r.
func metricValue(t *testing.T, r *serveProcess, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + r.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		fields := strings.Fields(line)
		v, _ := strconv.ParseFloat(fields[len(fields)-1], 64)
		sum += v
	}
	return sum
}

// listCountPattern matches the list requests of the query service's
// request counter in the Prometheus text format.
var listCountPattern = regexp.MustCompile(`^clientele_query_requests_total\{[^}]*op="list"[^}]*\} (\S+)$`)

// listCounts returns the list requests that each replica has handled, from
// its /metrics.
func listCounts(t *testing.T, replicas []*serveProcess) []float64 {
	t.Helper()
	out := make([]float64, len(replicas))
	for i, r := range replicas {
		resp, err := http.Get("http://" + r.httpAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if m := listCountPattern.FindStringSubmatch(sc.Text()); m != nil {
				v, _ := strconv.ParseFloat(m[1], 64)
				out[i] += v
			}
		}
		resp.Body.Close()
	}
	return out
}

// querying lists users in a loop on a goroutine and counts the failures.
type querying struct {
	quit chan struct{}
	done chan struct{}

	mu     sync.Mutex
	total  int
	failed int
	// failures holds the start time of each failed request.
	failures []time.Time
	last     error
}

// queryCounts are the counts of a querying run.
type queryCounts struct {
	total, failed int
	// after counts the failures of requests started after a given time.
	after int
	last  error
}

func startQuerying(ctx context.Context, qc *query.Client, users []string) *querying {
	q := &querying{quit: make(chan struct{}), done: make(chan struct{})}
	var next atomic.Int64
	go func() {
		defer close(q.done)
		for {
			select {
			case <-q.quit:
				return
			case <-time.After(20 * time.Millisecond):
			}
			user := users[int(next.Add(1))%len(users)]
			start := time.Now()
			reqCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := qc.List(reqCtx, query.ListRequest{User: user})
			cancel()
			q.mu.Lock()
			q.total++
			if err != nil {
				q.failed++
				q.failures = append(q.failures, start)
				q.last = err
			}
			q.mu.Unlock()
		}
	}()
	return q
}

func (q *querying) stop() queryCounts {
	return q.stopAfter(time.Now())
}

// stopAfter ends the loop and returns its counts, with the failures of
// requests started after from in after.
func (q *querying) stopAfter(from time.Time) queryCounts {
	close(q.quit)
	<-q.done
	q.mu.Lock()
	defer q.mu.Unlock()
	counts := queryCounts{total: q.total, failed: q.failed, last: q.last}
	for _, at := range q.failures {
		if at.After(from) {
			counts.after++
		}
	}
	return counts
}

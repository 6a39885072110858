package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"mellium.im/xmpp/jid"

	"github.com/clientele-xmpp/clientele/events"
)

// Limits of the command endpoints.
const (
	defaultCommandBatch = 100
	maxCommandBatch     = 1000
	maxAckBody          = 256 << 10
	maxAcks             = 1000
	ackTimeout          = 5 * time.Second
	// consumerInactive removes the consumer of a node that has not polled
	// for this long. Undelivered commands expire after seven days by default.
	consumerInactive = 7 * 24 * time.Hour
	// sinceSkew moves the start of a new consumer earlier than the since
	// parameter, to allow for clock differences between node and NATS.
	sinceSkew = time.Minute
)

// DeliveredCommand is one command of a GET /v1/commands response.
type DeliveredCommand struct {
	// Ack is the opaque id that POST /v1/commands/ack takes.
	Ack string `json:"ack"`
	// Seq is the command's sequence in the command stream.
	Seq uint64 `json:"seq"`
	// Delivered counts the deliveries of this command to the node, from 1.
	Delivered uint64 `json:"delivered"`
	// Command is the command in the wire form of events.Command.
	Command json.RawMessage `json:"command"`
}

// CommandsResponse is the body of a GET /v1/commands response.
type CommandsResponse struct {
	Commands []DeliveredCommand `json:"commands"`
}

// AckRequest is the body of POST /v1/commands/ack.
type AckRequest struct {
	Node   string   `json:"node"`
	Domain string   `json:"domain"`
	Acks   []string `json:"acks"`
}

// AckResult is the outcome of one acknowledgement.
type AckResult struct {
	Ack   string `json:"ack"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// AckResponse is the body of a POST /v1/commands/ack response.
type AckResponse struct {
	Results []AckResult `json:"results"`
}

// ConsumerName returns the name of the durable consumer that holds the
// commands of node for domain. Both must be valid as checkNodeDomain
// requires.
func ConsumerName(node, domain string) string {
	return "clientele-node-" + node + "-" + events.Key(domain)
}

func (s *Server) handleCommands(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	node, domain, err := checkNodeDomain(q.Get("node"), q.Get("domain"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	wait, err := s.parseWait(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	limit, err := parseLimit(q.Get("max"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	since, err := parseSince(q.Get("since"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	cons, err := s.consumers.get(r.Context(), node, domain, since)
	if err != nil {
		s.log.Warn("command consumer unavailable", "node", node, "domain", domain, "error", err)
		writeError(w, http.StatusServiceUnavailable, "commands are unavailable for now: "+err.Error())
		return
	}

	msgs, err := s.fetchCommands(r, cons, limit, wait)
	if err != nil {
		// The consumer may have been deleted: the next poll creates it again.
		s.consumers.forget(node, domain)
		s.log.Warn("fetching commands failed", "node", node, "domain", domain, "error", err)
		writeError(w, http.StatusServiceUnavailable, "fetching commands failed: "+err.Error())
		return
	}
	resp := CommandsResponse{Commands: []DeliveredCommand{}}
	for _, msg := range msgs {
		if dc, ok := s.deliver(msg, node); ok {
			resp.Commands = append(resp.Commands, dc)
		}
	}
	s.cfg.Metrics.command("delivered", len(resp.Commands))
	if len(resp.Commands) > 0 {
		s.log.Info("commands delivered", "node", node, "domain", domain, "commands", len(resp.Commands))
	}
	writeJSON(w, http.StatusOK, resp)
}

// fetchCommands returns the commands available now, or else waits up to
// wait for the first one and returns it with any that arrived with it.
func (s *Server) fetchCommands(r *http.Request, cons jetstream.Consumer, limit int, wait time.Duration) ([]jetstream.Msg, error) {
	msgs, err := collect(cons.FetchNoWait(limit))
	if err != nil || len(msgs) > 0 || wait == 0 {
		return msgs, err
	}

	ctx, cancel := s.pollContext(r, wait)
	defer cancel()
	first, err := collect(cons.Fetch(1, jetstream.FetchContext(ctx)))
	if err != nil && ctx.Err() != nil {
		// The wait ended, the client went away or the server is closing.
		return first, nil
	}
	if err != nil || len(first) == 0 || limit == 1 {
		return first, err
	}
	more, err := collect(cons.FetchNoWait(limit - 1))
	return append(first, more...), err
}

// collect reads every message of a fetch. It returns the messages read
// before an error, with the error.
func collect(batch jetstream.MessageBatch, err error) ([]jetstream.Msg, error) {
	if err != nil {
		return nil, err
	}
	var msgs []jetstream.Msg
	for msg := range batch.Messages() {
		msgs = append(msgs, msg)
	}
	return msgs, batch.Error()
}

// deliver turns a fetched message into a DeliveredCommand. A message that
// is not a valid command can never be carried out: it is terminated so that
// it is not delivered again, and deliver reports false.
func (s *Server) deliver(msg jetstream.Msg, node string) (DeliveredCommand, bool) {
	meta, err := msg.Metadata()
	if err != nil {
		s.log.Error("command without JetStream metadata skipped", "node", node, "error", err)
		return DeliveredCommand{}, false
	}
	if _, err := events.DecodeCommand(msg.Data()); err != nil {
		s.log.Error("malformed command terminated", "node", node, "seq", meta.Sequence.Stream, "error", err)
		if terr := msg.Term(); terr != nil {
			s.log.Warn("terminating a malformed command failed", "seq", meta.Sequence.Stream, "error", terr)
		}
		s.cfg.Metrics.command("malformed", 1)
		return DeliveredCommand{}, false
	}
	return DeliveredCommand{
		Ack:       msg.Reply(),
		Seq:       meta.Sequence.Stream,
		Delivered: meta.NumDelivered,
		Command:   json.RawMessage(msg.Data()),
	}, true
}

func (s *Server) handleAck(w http.ResponseWriter, r *http.Request) {
	var req AckRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAckBody))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("expected a JSON object {\"node\", \"domain\", \"acks\"} of at most %d bytes: %v", maxAckBody, err))
		return
	}
	node, domain, err := checkNodeDomain(req.Node, req.Domain)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(req.Acks) > maxAcks {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%d acks exceed the limit of %d per request", len(req.Acks), maxAcks))
		return
	}

	consumer := ConsumerName(node, domain)
	resp := AckResponse{Results: make([]AckResult, 0, len(req.Acks))}
	acked := 0
	for _, ack := range req.Acks {
		res := AckResult{Ack: ack}
		if err := s.ack(r.Context(), consumer, ack); err != nil {
			res.Error = err.Error()
			s.cfg.Metrics.command("ack_failed", 1)
			s.log.Warn("command acknowledgement failed", "node", node, "domain", domain, "error", err)
		} else {
			res.OK = true
			acked++
		}
		resp.Results = append(resp.Results, res)
	}
	s.cfg.Metrics.command("acked", acked)
	writeJSON(w, http.StatusOK, resp)
}

// ack acknowledges one delivered command and waits for JetStream to confirm.
func (s *Server) ack(ctx context.Context, consumer, ack string) error {
	if err := checkAck(ack, consumer); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	if _, err := s.cfg.JS.Conn().RequestWithContext(ctx, ack, []byte("+ACK")); err != nil {
		return fmt.Errorf("acknowledgement not confirmed: %v; an unacknowledged command is delivered again", err)
	}
	return nil
}

// checkAck accepts only the acknowledgement subjects of JetStream for a
// message of the command stream delivered to consumer, so that a node
// cannot make the server publish on any other subject. Both the short form
// $JS.ACK.<stream>.<consumer>.<5 numbers> and the long form with domain,
// account hash and a trailing token are accepted.
func checkAck(ack, consumer string) error {
	invalid := fmt.Errorf("invalid ack %q: expected an ack of a command delivered to this node and domain", truncate(ack))
	tokens := strings.Split(ack, ".")
	if len(tokens) < 9 || tokens[0] != "$JS" || tokens[1] != "ACK" {
		return invalid
	}
	var stream, cons string
	var numbers []string
	switch {
	case len(tokens) == 9:
		stream, cons, numbers = tokens[2], tokens[3], tokens[4:9]
	case len(tokens) >= 11:
		stream, cons, numbers = tokens[4], tokens[5], tokens[6:11]
	default:
		return invalid
	}
	if stream != events.CommandStreamName || cons != consumer {
		return invalid
	}
	for _, n := range numbers {
		if _, err := strconv.ParseUint(n, 10, 64); err != nil {
			return invalid
		}
	}
	return nil
}

// checkNodeDomain checks a node id and a domain and returns the domain in
// normalised form. The node id follows the rule of the node field of an
// event, which Validate applies to a heartbeat of that node.
func checkNodeDomain(node, domain string) (string, string, error) {
	probe := &events.Event{ID: "x", Type: events.NodeHeartbeat, V: events.Version, Time: time.Unix(1, 0), Node: node}
	if err := events.Validate(probe); err != nil {
		return "", "", fmt.Errorf("node: %v", err)
	}
	if domain == "" {
		return "", "", errors.New("domain is missing: pass the XMPP domain whose commands this node carries out, such as domain=example.org")
	}
	j, err := jid.Parse(domain)
	if err != nil || j.Localpart() != "" || j.Resourcepart() != "" {
		return "", "", fmt.Errorf("domain %q: expected a bare XMPP domain such as example.org", truncate(domain))
	}
	return node, j.Domainpart(), nil
}

func parseLimit(raw string) (int, error) {
	if raw == "" {
		return defaultCommandBatch, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > maxCommandBatch {
		return 0, fmt.Errorf("max %q: expected a whole number from 1 to %d", truncate(raw), maxCommandBatch)
	}
	return n, nil
}

// parseSince reads the since parameter, an RFC 3339 time such as the start
// of the node's process. It is the zero time when absent.
func parseSince(raw string) (time.Time, error) {
	if raw == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return time.Time{}, fmt.Errorf("since %q: expected an RFC 3339 time such as 2026-12-04T10:00:00Z", truncate(raw))
	}
	return t, nil
}

func truncate(s string) string {
	const limit = 200
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}

// consumers creates the durable consumer of each node and domain once per
// process and keeps it. It is safe for concurrent use.
type consumers struct {
	js      jetstream.JetStream
	ackWait time.Duration

	mu     sync.Mutex
	byName map[string]jetstream.Consumer
}

func newConsumers(js jetstream.JetStream, ackWait time.Duration) *consumers {
	return &consumers{js: js, ackWait: ackWait, byName: make(map[string]jetstream.Consumer)}
}

// get returns the consumer of node and domain, creating it when needed. A
// new consumer starts with the commands published since since, less
// sinceSkew, or with the commands published after its creation when since
// is zero. An existing consumer keeps its position.
func (c *consumers) get(ctx context.Context, node, domain string, since time.Time) (jetstream.Consumer, error) {
	name := ConsumerName(node, domain)
	c.mu.Lock()
	cons, ok := c.byName[name]
	c.mu.Unlock()
	if ok {
		return cons, nil
	}

	cons, err := c.js.Consumer(ctx, events.CommandStreamName, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		cons, err = c.create(ctx, name, node, domain, since)
	}
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", name, err)
	}
	c.mu.Lock()
	c.byName[name] = cons
	c.mu.Unlock()
	return cons, nil
}

func (c *consumers) create(ctx context.Context, name, node, domain string, since time.Time) (jetstream.Consumer, error) {
	cfg := jetstream.ConsumerConfig{
		Durable:           name,
		Description:       "revoke commands of node " + node + " for " + domain,
		FilterSubject:     events.DomainCommandFilter(domain),
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           c.ackWait,
		MaxAckPending:     maxCommandBatch,
		InactiveThreshold: consumerInactive,
	}
	if !since.IsZero() {
		start := since.Add(-sinceSkew)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := c.js.CreateConsumer(ctx, events.CommandStreamName, cfg)
	if errors.Is(err, jetstream.ErrConsumerExists) {
		// Another request created it first.
		return c.js.Consumer(ctx, events.CommandStreamName, name)
	}
	return cons, err
}

// forget drops a cached consumer, so that the next get creates it again.
func (c *consumers) forget(node, domain string) {
	c.mu.Lock()
	delete(c.byName, ConsumerName(node, domain))
	c.mu.Unlock()
}

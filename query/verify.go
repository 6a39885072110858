package query

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/clientele-xmpp/clientele/events"
	"github.com/clientele-xmpp/clientele/projector"
)

// Kinds of a Difference.
const (
	// DiffOnlyLive is a client that the live view lists and the replay not.
	DiffOnlyLive = "only_live"
	// DiffOnlyReplay is a client that the replay lists and the live view not.
	DiffOnlyReplay = "only_replay"
	// DiffFields is a client that both list with different fields.
	DiffFields = "fields"
)

// maxVerifyRounds bounds the rounds in which Verify requests the accounts
// that the replay found after the live pages were compared.
const maxVerifyRounds = 5

// VerifyOptions sets up Verify. The zero value works.
type VerifyOptions struct {
	// PageSize is the number of accounts per request; 0 means
	// DefaultAccountsLimit.
	PageSize int
	// Progress, if not nil, is called as the replay advances, and once more
	// with Finished set when it has replayed all it needs.
	Progress func(VerifyProgress)
}

// VerifyProgress is the state of the replay of a Verify.
type VerifyProgress struct {
	// Seq is the last replayed stream sequence, of Total at the start.
	Seq, Total uint64
	// Events counts the messages replayed so far, at Rate per second.
	Events   int
	Rate     float64
	Elapsed  time.Duration
	Finished bool
}

// Difference is one client whose live view differs from the replay.
type Difference struct {
	User   string `json:"user"`
	Client string `json:"client"`
	Kind   string `json:"kind"`
	// Changes lists the differing fields of a DiffFields difference, with
	// the live value as Before and the replayed one as After.
	Changes []FieldChange `json:"changes,omitempty"`
	// Seq is the stream sequence at which both were compared.
	Seq uint64 `json:"seq"`
}

// VerifyReport is the outcome of a Verify.
type VerifyReport struct {
	// Accounts and Clients count what was compared, clients as the live view
	// lists them.
	Accounts int `json:"accounts"`
	Clients  int `json:"clients"`
	// Seq is the last stream sequence at which accounts were compared.
	Seq uint64 `json:"seq"`
	// FirstSeq is the stream's oldest sequence at the start. Above 1, older
	// events were removed, usually by the stream's maximum age, and the live
	// view may rightly keep state that the replay cannot rebuild.
	FirstSeq    uint64       `json:"first_seq"`
	Differences []Difference `json:"differences"`
}

// Verify replays the whole event stream into a fresh state and compares
// every account's view with the live view of the query service that c
// reaches, each at the stream sequence and time at which the service
// computed it. It reads the stream through js.
func Verify(ctx context.Context, js jetstream.JetStream, c *Client, opt VerifyOptions) (*VerifyReport, error) {
	stream, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		return nil, fmt.Errorf("%w: stream %s: %v", ErrUnavailable, events.StreamName, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: stream info: %v", ErrUnavailable, err)
	}
	v := &verifier{
		stream: stream, client: c, opt: opt, state: projector.NewState(),
		compared: make(map[string]bool), total: info.State.LastSeq, start: time.Now(),
		report: &VerifyReport{FirstSeq: info.State.FirstSeq, Differences: []Difference{}},
	}
	if err := v.comparePages(ctx); err != nil {
		return nil, err
	}
	if err := v.compareRest(ctx); err != nil {
		return nil, err
	}
	v.progress(true)
	return v.report, nil
}

// verifier is the state of one Verify.
type verifier struct {
	stream   jetstream.Stream
	client   *Client
	opt      VerifyOptions
	state    *projector.State
	applied  uint64
	events   int
	total    uint64
	start    time.Time
	compared map[string]bool
	report   *VerifyReport
}

// comparePages compares the accounts of the live view, page by page.
func (v *verifier) comparePages(ctx context.Context) error {
	req := ViewsRequest{Limit: v.opt.PageSize}
	for {
		page, err := v.client.Views(ctx, req)
		if err != nil {
			return err
		}
		if err := v.compare(ctx, page); err != nil {
			return err
		}
		if page.Next == "" {
			return nil
		}
		req.After = page.Next
	}
}

// compareRest compares the accounts that the replay contains and no page
// held, such as accounts whose first event arrived while the pages were
// read. Each round may replay further and find more.
func (v *verifier) compareRest(ctx context.Context) error {
	for range maxVerifyRounds {
		var rest []string
		for user := range v.state.Users {
			if !v.compared[user] {
				rest = append(rest, user)
			}
		}
		if len(rest) == 0 {
			return nil
		}
		for len(rest) > 0 {
			n := min(len(rest), MaxAccountsLimit)
			page, err := v.client.Views(ctx, ViewsRequest{Users: rest[:n]})
			if err != nil {
				return err
			}
			if len(page.Accounts) == 0 {
				return fmt.Errorf("%w: views of %d accounts do not fit into a reply", ErrUnavailable, n)
			}
			if err := v.compare(ctx, page); err != nil {
				return err
			}
			rest = rest[len(page.Accounts):]
		}
	}
	return nil
}

// compare replays up to the page's sequence and compares its accounts.
func (v *verifier) compare(ctx context.Context, page *ViewsReply) error {
	if err := v.replayTo(ctx, page.Seq); err != nil {
		return err
	}
	opt := projector.ViewOptions{Now: page.Now, HeartbeatTimeout: page.HeartbeatTimeout}
	for _, a := range page.Accounts {
		v.compared[a.User] = true
		v.report.Accounts++
		v.report.Clients += len(a.Clients)
		replayed := v.state.Clients(a.User, opt)
		v.report.Differences = append(v.report.Differences, differences(a.User, page.Seq, a.Clients, replayed)...)
	}
	v.report.Seq = max(v.report.Seq, page.Seq)
	return nil
}

// replayTo applies the stream's events after the last applied sequence up
// to seq, skipping messages that are not valid events as the projector
// does.
func (v *verifier) replayTo(ctx context.Context, seq uint64) error {
	if seq <= v.applied {
		return nil
	}
	last := time.Time{}
	err := scanStream(ctx, v.stream, scanRange{start: v.applied + 1, stop: seq}, func(msg jetstream.Msg, meta *jetstream.MsgMetadata) bool {
		if e, err := events.Decode(msg.Data()); err == nil {
			_ = v.state.Apply(e)
		}
		v.applied = meta.Sequence.Stream
		v.events++
		if time.Since(last) >= 100*time.Millisecond {
			last = time.Now()
			v.progress(false)
		}
		return true
	})
	if err != nil {
		return err
	}
	v.applied = seq
	return nil
}

func (v *verifier) progress(finished bool) {
	if v.opt.Progress == nil {
		return
	}
	elapsed := time.Since(v.start)
	p := VerifyProgress{Seq: v.applied, Total: max(v.total, v.applied), Events: v.events, Elapsed: elapsed, Finished: finished}
	if elapsed > 0 {
		p.Rate = float64(v.events) / elapsed.Seconds()
	}
	v.opt.Progress(p)
}

// differences compares the live and replayed client lists of user.
func differences(user string, seq uint64, live, replayed []projector.ClientView) []Difference {
	var out []Difference
	byID := make(map[string]projector.ClientView, len(replayed))
	for _, c := range replayed {
		byID[c.ID] = c
	}
	seen := make(map[string]bool, len(live))
	for _, c := range live {
		seen[c.ID] = true
		r, ok := byID[c.ID]
		if !ok {
			out = append(out, Difference{User: user, Client: c.ID, Kind: DiffOnlyLive, Seq: seq})
			continue
		}
		if changes := CompareClient(c, r, true); len(changes) > 0 {
			out = append(out, Difference{User: user, Client: c.ID, Kind: DiffFields, Changes: changes, Seq: seq})
		}
	}
	for _, c := range replayed {
		if !seen[c.ID] {
			out = append(out, Difference{User: user, Client: c.ID, Kind: DiffOnlyReplay, Seq: seq})
		}
	}
	return out
}

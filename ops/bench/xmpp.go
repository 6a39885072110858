package bench

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	mellium "mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/clientele-xmpp/clientele/query"
	"github.com/clientele-xmpp/clientele/xmpp"
)

// xmppReadyTimeout bounds the wait until a list through Prosody succeeds,
// which needs the component connected and the delegation in place.
const xmppReadyTimeout = 20 * time.Second

// measureXMPP starts Prosody with the clientele component, logs in as a
// client over loopback and alternates list requests, which Prosody
// delegates to the component, with XMPP pings of the server. It reports the
// measurement as skipped, with the reason, when Prosody or mod_delegation
// is missing.
func (env *environment) measureXMPP(ctx context.Context) ([]Result, error) {
	res := Result{
		Name: MeasureXMPP, Title: "list p99 over XMPP vs XMPP ping", Unit: "ms",
		Target: Target{Figure: "ratio", Op: "<=", Value: 1.5},
	}
	if reason := missingProsody(); reason != "" {
		res.Skipped = reason
		return []Result{res}, nil
	}
	env.cfg.Progress(Progress{Measurement: MeasureXMPP, Step: "start prosody and the component"})
	svc, err := env.startQuery(ctx)
	if err != nil {
		return nil, err
	}
	defer svc.Stop()
	p, err := startProsody(ctx, filepath.Join(env.dir, "prosody"))
	if err != nil {
		return nil, err
	}
	defer p.stop()

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	component, err := xmpp.NewComponent(xmpp.ComponentConfig{
		Addr: p.componentAddr, JID: xmppComponent, Secret: p.secret, Domains: []string{xmppDomain},
		Backend: query.NewClient(env.client), Logger: env.cfg.Logger.With("component", "xmpp"),
	})
	if err != nil {
		return nil, err
	}
	go func() { _ = component.Run(cctx) }()

	session, err := loginXMPP(ctx, p)
	if err != nil {
		return nil, err
	}
	defer session.Close()
	go func() { _ = session.Serve(nil) }()
	if err := waitDelegation(ctx, session); err != nil {
		return nil, err
	}
	results, err := env.timeXMPP(ctx, session, res)
	if err != nil {
		return nil, err
	}
	cpu, err := env.xmppCPU(ctx, session, p.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	maps.Copy(results[len(results)-1].Details, cpu)
	return results, nil
}

// xmppCPU sends a run of pings and then a run of lists, and returns the CPU
// time per request that Prosody and this process spent on each run, in
// microseconds. Prosody's figures are left out where /proc cannot tell
// them.
func (env *environment) xmppCPU(ctx context.Context, session *mellium.Session, prosodyPID int) (map[string]float64, error) {
	server := jid.MustParse(xmppDomain)
	n := max(env.cfg.Requests/4, 100)
	details := make(map[string]float64)
	runs := []struct {
		name  string
		ns    string
		local string
		to    jid.JID
	}{
		{"ping", "urn:xmpp:ping", "ping", server},
		{"list", xmpp.NSCAM, "list", jid.JID{}},
	}
	for _, run := range runs {
		env.cfg.Progress(Progress{Measurement: MeasureXMPP, Step: "CPU time of " + run.name + " requests", Total: n})
		prosodyStart, prosodyErr := processCPUOf(prosodyPID)
		ownStart := processCPU()
		for range n {
			if err := sendIQ(ctx, session, run.ns, run.local, run.to); err != nil {
				return nil, fmt.Errorf("bench: XMPP %s: %w", run.name, err)
			}
		}
		details["process_cpu_us_per_"+run.name] = perEvent(processCPU()-ownStart, n)
		if prosodyEnd, err := processCPUOf(prosodyPID); err == nil && prosodyErr == nil {
			details["prosody_cpu_us_per_"+run.name] = perEvent(prosodyEnd-prosodyStart, n)
		}
	}
	return details, nil
}

// timeXMPP alternates pings and lists on session and returns their
// latency results.
func (env *environment) timeXMPP(ctx context.Context, session *mellium.Session, res Result) ([]Result, error) {
	server := jid.MustParse(xmppDomain)
	n := max(env.cfg.Requests/4, 100)
	var list, ping latencies
	for i := range n + warmUpRequests {
		if i%500 == 0 {
			env.cfg.Progress(Progress{Measurement: MeasureXMPP, Step: "list and ping over XMPP", Done: i, Total: n + warmUpRequests})
		}
		start := time.Now()
		if err := sendIQ(ctx, session, "urn:xmpp:ping", "ping", server); err != nil {
			return nil, fmt.Errorf("bench: XMPP ping: %w", err)
		}
		pingTook := time.Since(start)

		start = time.Now()
		if err := sendIQ(ctx, session, xmpp.NSCAM, "list", jid.JID{}); err != nil {
			return nil, fmt.Errorf("bench: XMPP list: %w", err)
		}
		listTook := time.Since(start)
		if i >= warmUpRequests {
			list, ping = append(list, listTook), append(ping, pingTook)
		}
	}
	return latencyResults(res, list, ping, map[string]float64{"requests": float64(len(list))}), nil
}

// loginXMPP logs in to p as the bench account with SASL PLAIN and binds a
// resource. The connection is loopback only, so the session counts it as
// secure, which mellium requires for PLAIN.
func loginXMPP(ctx context.Context, p *prosody) (*mellium.Session, error) {
	conn, err := net.DialTimeout("tcp", p.c2sAddr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("bench: dial prosody: %w", err)
	}
	origin := jid.MustParse(xmppUser + "@" + xmppDomain)
	login, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	session, err := mellium.NewSession(login, origin.Domain(), origin, conn, mellium.Secure, mellium.NewNegotiator(
		func(*mellium.Session, *mellium.StreamConfig) mellium.StreamConfig {
			return mellium.StreamConfig{Features: []mellium.StreamFeature{
				mellium.SASL("", p.password, sasl.Plain), mellium.BindResource(),
			}}
		}))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("bench: XMPP login as %s: %w", origin, err)
	}
	return session, nil
}

// waitDelegation sends list requests until one succeeds, because Prosody
// delegates the namespace only once the component has connected.
func waitDelegation(ctx context.Context, session *mellium.Session) error {
	deadline := time.Now().Add(xmppReadyTimeout)
	for {
		err := sendIQ(ctx, session, xmpp.NSCAM, "list", jid.JID{})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: XMPP list through prosody failed for %s: %w", xmppReadyTimeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// errNoReply reports a reply to an IQ that is not an element.
var errNoReply = errors.New("bench: IQ reply is not an element")

// sendIQ sends a get IQ with an empty element ns:local to to, or without
// a to attribute for the zero JID, and returns an error unless the reply
// is a result.
func sendIQ(ctx context.Context, session *mellium.Session, ns, local string, to jid.JID) error {
	// The context ends only by its timeout, because mellium.im/xmpp v0.22.0
	// may fail the next write on the connection when it ends right after
	// the call (see xmpp/serve.go).
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	time.AfterFunc(requestTimeout, cancel)
	payload := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: ns, Local: local}})
	reply, err := session.SendIQElement(ctx, payload, stanza.IQ{Type: stanza.GetIQ, To: to})
	if err != nil {
		return err
	}
	defer reply.Close()
	tok, err := reply.Token()
	if err != nil {
		return err
	}
	start, ok := tok.(xml.StartElement)
	if !ok {
		return errNoReply
	}
	for _, a := range start.Attr {
		if a.Name.Local == "type" && a.Value != string(stanza.ResultIQ) {
			return fmt.Errorf("reply of type %s", a.Value)
		}
	}
	return nil
}

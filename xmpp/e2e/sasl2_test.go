package e2e

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Namespaces that the SASL2 client speaks.
const (
	nsStreams     = "http://etherx.jabber.org/streams"
	nsStreamError = "urn:ietf:params:xml:ns:xmpp-streams"
	nsSASL2       = "urn:xmpp:sasl:2"
	nsSM3         = "urn:xmpp:sm:3"
)

// errSASL2Rejected reports an authentication that the server rejected
// with <failure/>.
var errSASL2Rejected = errors.New("sasl2 authentication rejected")

// sasl2Login is how a sasl2Client logs in: SASL2 (XEP-0388) with PLAIN
// over plain TCP, with a <user-agent/> when ClientID, Software or Device is
// set.
type sasl2Login struct {
	Addr, Domain, User, Password string
	ClientID, Software, Device   string
}

// sasl2Client is a minimal XMPP client for what slixmpp 1.8 cannot do:
// SASL2 with a client id, and stream management resumption.
type sasl2Client struct {
	t    *testing.T
	conn net.Conn
	dec  *xml.Decoder
	// JID is the full JID after bind.
	JID string
	// ResumeID is the stream management id after enableSM.
	ResumeID string
}

// rawElement is one top-level element of the stream.
type rawElement struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Inner   string     `xml:",innerxml"`
}

func (e rawElement) attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (e rawElement) String() string {
	return fmt.Sprintf("<%s xmlns=%q>%s</%s>", e.XMLName.Local, e.XMLName.Space, e.Inner, e.XMLName.Local)
}

// sasl2Connect opens a stream and authenticates with SASL2. The error wraps
// errSASL2Rejected when the server rejected the authentication.
func sasl2Connect(t *testing.T, login sasl2Login) (*sasl2Client, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", login.Addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := &sasl2Client{t: t, conn: conn, dec: xml.NewDecoder(conn)}
	t.Cleanup(func() { c.conn.Close() })

	if err := c.openStream(login.Domain); err != nil {
		return nil, err
	}
	features, err := c.next()
	if err != nil {
		return nil, err
	}
	if !strings.Contains(features.Inner, nsSASL2) {
		return nil, fmt.Errorf("server offers no SASL2: %s", features)
	}

	initial := base64.StdEncoding.EncodeToString([]byte("\x00" + login.User + "\x00" + login.Password))
	c.send(`<authenticate xmlns='%s' mechanism='PLAIN'><initial-response>%s</initial-response>%s</authenticate>`,
		nsSASL2, initial, userAgent(login))
	reply, err := c.next()
	if err != nil {
		return nil, err
	}
	if reply.XMLName.Local != "success" {
		return nil, fmt.Errorf("%w: %s", errSASL2Rejected, reply)
	}
	// SASL2 goes on without a stream restart: new features follow.
	if _, err := c.next(); err != nil {
		return nil, err
	}
	return c, nil
}

func userAgent(login sasl2Login) string {
	if login.ClientID == "" && login.Software == "" && login.Device == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString("<user-agent")
	if login.ClientID != "" {
		fmt.Fprintf(&b, " id='%s'", xmlEscape(login.ClientID))
	}
	b.WriteString(">")
	if login.Software != "" {
		fmt.Fprintf(&b, "<software>%s</software>", xmlEscape(login.Software))
	}
	if login.Device != "" {
		fmt.Fprintf(&b, "<device>%s</device>", xmlEscape(login.Device))
	}
	b.WriteString("</user-agent>")
	return b.String()
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (c *sasl2Client) openStream(domain string) error {
	c.send(`<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' xmlns:stream='%s' version='1.0'>`, xmlEscape(domain), nsStreams)
	for {
		tok, err := c.token()
		if err != nil {
			return err
		}
		if start, ok := tok.(xml.StartElement); ok && start.Name.Local == "stream" {
			return nil
		}
	}
}

func (c *sasl2Client) send(format string, args ...any) {
	c.t.Helper()
	if _, err := fmt.Fprintf(c.conn, format, args...); err != nil {
		c.t.Fatalf("sasl2 client: send: %v", err)
	}
}

func (c *sasl2Client) token() (xml.Token, error) {
	if err := c.conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return nil, err
	}
	return c.dec.Token()
}

// next returns the next top-level element. It returns io.EOF when the
// server closed the stream or the connection.
func (c *sasl2Client) next() (rawElement, error) {
	for {
		tok, err := c.token()
		if err != nil {
			return rawElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			var e rawElement
			if err := c.dec.DecodeElement(&e, &t); err != nil {
				return rawElement{}, err
			}
			return e, nil
		case xml.EndElement:
			return rawElement{}, io.EOF
		}
	}
}

// nextNamed returns the next top-level element named local, skipping
// others such as stream management ack requests.
func (c *sasl2Client) nextNamed(local string) (rawElement, error) {
	for {
		e, err := c.next()
		if err != nil || e.XMLName.Local == local {
			return e, err
		}
	}
}

// bind binds resource and sets JID.
func (c *sasl2Client) bind(resource string) {
	c.t.Helper()
	c.send(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>%s</resource></bind></iq>`, xmlEscape(resource))
	reply, err := c.nextNamed("iq")
	if err != nil {
		c.t.Fatalf("sasl2 client: bind: %v", err)
	}
	if reply.attr("type") != "result" {
		c.t.Fatalf("sasl2 client: bind failed: %s", reply)
	}
	var bound struct {
		JID string `xml:"jid"`
	}
	if err := xml.Unmarshal([]byte(reply.Inner), &bound); err != nil {
		c.t.Fatalf("sasl2 client: bind reply %s: %v", reply, err)
	}
	c.JID = bound.JID
}

// enableSM enables stream management with resumption and sets ResumeID.
func (c *sasl2Client) enableSM() {
	c.t.Helper()
	c.send(`<enable xmlns='%s' resume='true'/>`, nsSM3)
	reply, err := c.nextNamed("enabled")
	if err != nil {
		c.t.Fatalf("sasl2 client: enable stream management: %v", err)
	}
	c.ResumeID = reply.attr("id")
	if c.ResumeID == "" {
		c.t.Fatalf("sasl2 client: stream management without resumption: %s", reply)
	}
}

// resume resumes the stream management session id in place of a bind.
func (c *sasl2Client) resume(id string) {
	c.t.Helper()
	c.send(`<resume xmlns='%s' h='0' previd='%s'/>`, nsSM3, xmlEscape(id))
	reply, err := c.next()
	if err != nil {
		c.t.Fatalf("sasl2 client: resume: %v", err)
	}
	if reply.XMLName.Local != "resumed" {
		c.t.Fatalf("sasl2 client: resume failed: %s", reply)
	}
}

// drop closes the TCP connection without closing the stream, as a client
// that loses its network does.
func (c *sasl2Client) drop() {
	c.conn.Close()
}

// waitClosed reads until the server ends the stream and returns the
// condition of the stream error before the end, or "" when there was none.
func (c *sasl2Client) waitClosed() (string, error) {
	condition := ""
	for {
		e, err := c.next()
		if errors.Is(err, io.EOF) {
			return condition, nil
		}
		if err != nil {
			return condition, err
		}
		if e.XMLName.Space == nsStreams && e.XMLName.Local == "error" {
			condition = streamErrorCondition(e.Inner)
		}
	}
}

// streamErrorCondition returns the local name of the first child of a
// stream error in the stream error namespace other than <text/>.
func streamErrorCondition(inner string) string {
	dec := xml.NewDecoder(strings.NewReader(inner))
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if start, ok := tok.(xml.StartElement); ok && start.Name.Space == nsStreamError && start.Name.Local != "text" {
			return start.Name.Local
		}
	}
}

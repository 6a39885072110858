package xmpp

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// Limits on the stanza that readElement stores. A request of this protocol,
// even wrapped for delegation, has five levels and a handful of elements. A
// stanza over a limit is read to its end but only marked as oversized.
const (
	maxDepth     = 12
	maxElements  = 64
	maxAttrBytes = 64 << 10
)

// element is an XML element with its attributes, child elements and text.
// Requests are read into elements without text, and replies are built as
// elements and then encoded.
type element struct {
	name     xml.Name
	attr     []xml.Attr
	children []*element
	text     string
	// oversized is set on the root of a stanza that broke a read limit, in
	// which case some of its content was dropped.
	oversized bool
}

// newElement returns an element named name with the attributes given as
// name, value pairs in attrs. Pairs with an empty value are left out.
func newElement(name xml.Name, attrs ...string) *element {
	e := &element{name: name}
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] == "" {
			continue
		}
		e.attr = append(e.attr, xml.Attr{Name: xml.Name{Local: attrs[i]}, Value: attrs[i+1]})
	}
	return e
}

// newTextElement returns an element named name that contains text.
func newTextElement(name xml.Name, text string) *element {
	e := newElement(name)
	e.text = text
	return e
}

func (e *element) add(children ...*element) *element {
	e.children = append(e.children, children...)
	return e
}

// attrValue returns the value of the attribute local in no namespace.
func (e *element) attrValue(local string) (string, bool) {
	for _, a := range e.attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// onlyChild returns the one child element of e, or false when e has none or
// more than one.
func (e *element) onlyChild() (*element, bool) {
	if len(e.children) != 1 {
		return nil, false
	}
	return e.children[0], true
}

// appendTokens appends the tokens of e, from its start to its end element,
// to toks.
func (e *element) appendTokens(toks []xml.Token) []xml.Token {
	start := xml.StartElement{Name: e.name, Attr: e.attr}
	toks = append(toks, start)
	if e.text != "" {
		toks = append(toks, xml.CharData(e.text))
	}
	for _, c := range e.children {
		toks = c.appendTokens(toks)
	}
	return append(toks, start.End())
}

// readElement reads the content of the element that start opened from r, up
// to and including its end element, and returns it as an element tree
// without text. Comments, processing instructions and text are skipped. It
// returns an error only when r fails or ends before the end element.
func readElement(r xml.TokenReader, start xml.StartElement) (*element, error) {
	root := copyStart(start)
	stack := []*element{root}
	count := 1
	attrBytes := attrSize(start)

	for len(stack) > 0 {
		tok, err := r.Token()
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			attrBytes += attrSize(t)
			if len(stack) >= maxDepth || count > maxElements || attrBytes > maxAttrBytes {
				root.oversized = true
			}
			var child *element
			if !root.oversized {
				child = copyStart(t)
				stack[len(stack)-1].add(child)
			}
			// After a limit is broken, nil entries keep track of the depth
			// without storing elements.
			stack = append(stack, child)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}

		if len(stack) == 0 {
			return root, nil
		}
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading <%s/>: %w", start.Name.Local, io.ErrUnexpectedEOF)
		}
		if err != nil {
			return nil, err
		}
	}
	return root, nil
}

func copyStart(start xml.StartElement) *element {
	return &element{name: start.Name, attr: append([]xml.Attr(nil), start.Attr...)}
}

func attrSize(start xml.StartElement) int {
	n := 0
	for _, a := range start.Attr {
		n += len(a.Name.Space) + len(a.Name.Local) + len(a.Value)
	}
	return n
}

// sliceReader is an xml.TokenReader over a slice of tokens.
type sliceReader struct {
	toks []xml.Token
}

func (r *sliceReader) Token() (xml.Token, error) {
	if len(r.toks) == 0 {
		return nil, io.EOF
	}
	tok := r.toks[0]
	r.toks = r.toks[1:]
	return tok, nil
}

package projector

import (
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// position is the place of a message in the stream: its stream sequence,
// the time JetStream stored it and the number of messages after it that
// the consumer has yet to deliver.
type position struct {
	seq     uint64
	stored  time.Time
	pending uint64
}

// positionOf reads the position of msg from its reply subject, which
// JetStream writes as
//
//	$JS.ACK.<stream>.<consumer>.<delivered>.<seq>.<cseq>.<time>.<pending>
//
// or, on newer servers, with a domain and an account hash after "$JS.ACK"
// and a random token at the end. It parses in place, without the
// allocations of msg.Metadata, to which it falls back for any other form.
func positionOf(msg jetstream.Msg) (position, error) {
	if p, ok := parsePosition(msg.Reply()); ok {
		return p, nil
	}
	meta, err := msg.Metadata()
	if err != nil {
		return position{}, err
	}
	return position{seq: meta.Sequence.Stream, stored: meta.Timestamp, pending: meta.NumPending}, nil
}

// Token counts and the index of the stream sequence in each form of the
// reply subject, counting "$JS" and "ACK".
const (
	ackTokensV1 = 9
	ackSeqV1    = 5
	ackTokensV2 = 12
	ackSeqV2    = 7
)

func parsePosition(reply string) (position, bool) {
	rest, ok := strings.CutPrefix(reply, "$JS.ACK.")
	if !ok {
		return position{}, false
	}
	var tokens [ackTokensV2]string
	tokens[0], tokens[1] = "$JS", "ACK"
	n := 2
	for rest != "" && n < len(tokens) {
		tokens[n], rest, _ = strings.Cut(rest, ".")
		n++
	}
	var at int
	switch {
	case rest != "":
		return position{}, false
	case n == ackTokensV1:
		at = ackSeqV1
	case n >= ackTokensV2-1:
		at = ackSeqV2
	default:
		return position{}, false
	}
	seq, err1 := strconv.ParseUint(tokens[at], 10, 64)
	nanos, err2 := strconv.ParseInt(tokens[at+2], 10, 64)
	pending, err3 := strconv.ParseUint(tokens[at+3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return position{}, false
	}
	return position{seq: seq, stored: time.Unix(0, nanos), pending: pending}, true
}

package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/clientele-xmpp/clientele/events"
)

// EventResult is the outcome of one event of POST /v1/events.
type EventResult struct {
	// Line is the event's line number in the request body, from 1.
	Line int `json:"line"`
	// ID and Type are copied from the event when its JSON could be parsed.
	ID   string `json:"id,omitempty"`
	Type string `json:"type,omitempty"`
	// OK is true when the event is stored. Seq is then its stream sequence,
	// and Duplicate is true when an earlier request had stored it already.
	OK        bool   `json:"ok"`
	Seq       uint64 `json:"seq,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
	// Status is 400 for an invalid event, 413 for a line over the size
	// limit and 503 for an event that was not stored for now.
	Status int    `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
	// Retry is true when sending the same event again may succeed.
	Retry bool `json:"retry,omitempty"`
}

// EventsResponse is the body of a POST /v1/events response.
type EventsResponse struct {
	// Results has one entry per non-empty line, in the order of the lines.
	Results    []EventResult `json:"results"`
	Stored     int           `json:"stored"`
	Duplicates int           `json:"duplicates"`
	Rejected   int           `json:"rejected"`
	Failed     int           `json:"failed"`
}

// batch is the decoded events of one request with the index of each one's
// result.
type batch struct {
	events  []*events.Event
	results []int
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	body, status, err := s.readBody(w, r)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	resp, b := s.decodeLines(body)
	if len(resp.Results) > s.cfg.MaxEvents {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request has %d events, more than the limit of %d: send fewer events per request", len(resp.Results), s.cfg.MaxEvents))
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.PublishTimeout)
	defer cancel()
	if recheck, _ := strconv.ParseBool(r.URL.Query().Get("recheck")); recheck {
		b = s.recheckStored(ctx, b, resp)
	}
	s.publish(ctx, b, resp)

	for _, res := range resp.Results {
		switch {
		case res.OK && res.Duplicate:
			resp.Duplicates++
		case res.OK:
			resp.Stored++
		case res.Retry:
			resp.Failed++
		default:
			resp.Rejected++
		}
	}
	s.cfg.Metrics.event("stored", resp.Stored)
	s.cfg.Metrics.event("duplicate", resp.Duplicates)
	s.cfg.Metrics.event("rejected", resp.Rejected)
	s.cfg.Metrics.event("failed", resp.Failed)

	status = http.StatusOK
	if resp.Failed > 0 {
		status = http.StatusServiceUnavailable
		s.log.Warn("events not stored, the node will retry", "failed", resp.Failed, "stored", resp.Stored, "remote", r.RemoteAddr)
	}
	if resp.Rejected > 0 {
		s.log.Warn("invalid events rejected", "rejected", resp.Rejected, "first_error", firstError(resp), "remote", r.RemoteAddr)
	}
	s.log.Debug("events received", "stored", resp.Stored, "duplicates", resp.Duplicates, "rejected", resp.Rejected, "failed", resp.Failed)
	writeJSON(w, status, resp)
}

// readBody reads the whole request body within MaxRequestBytes. On failure
// it returns the status code of the response.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, error) {
	limit := s.cfg.MaxRequestBytes
	tooLarge := fmt.Errorf("request body exceeds the limit of %d bytes: send fewer events per request", limit)
	if r.ContentLength > limit {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("reading the request body failed: %v", err)
	}
	return body, http.StatusOK, nil
}

// decodeLines decodes every non-empty line of body. It returns a response
// with a result for every line, final for the lines that were rejected, and
// the batch of valid events.
func (s *Server) decodeLines(body []byte) (*EventsResponse, batch) {
	resp := &EventsResponse{Results: []EventResult{}}
	var b batch
	for i, line := range bytes.Split(body, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		res := EventResult{Line: i + 1}
		if len(line) > events.MaxEventSize {
			res.Status = http.StatusRequestEntityTooLarge
			res.Error = fmt.Sprintf("line of %d bytes exceeds the limit of %d bytes for one event", len(line), events.MaxEventSize)
			resp.Results = append(resp.Results, res)
			continue
		}
		e, err := events.Decode(line)
		if e != nil {
			res.ID, res.Type = e.ID, string(e.Type)
		}
		if err != nil {
			res.Status, res.Error = http.StatusBadRequest, err.Error()
			resp.Results = append(resp.Results, res)
			continue
		}
		b.events = append(b.events, e)
		b.results = append(b.results, len(resp.Results))
		resp.Results = append(resp.Results, res)
	}
	return resp, b
}

// publish appends the events of b and fills in their results.
func (s *Server) publish(ctx context.Context, b batch, resp *EventsResponse) {
	if len(b.events) == 0 {
		return
	}
	results, _ := s.cfg.Publisher.PublishBatch(ctx, b.events)
	for k, pr := range results {
		res := &resp.Results[b.results[k]]
		switch {
		case pr.Err == nil:
			res.OK, res.Seq, res.Duplicate = true, pr.Seq, pr.Duplicate
		case errors.Is(pr.Err, events.ErrPublish), errors.Is(pr.Err, context.DeadlineExceeded), errors.Is(pr.Err, context.Canceled):
			res.Status, res.Error, res.Retry = http.StatusServiceUnavailable, "not stored: "+pr.Err.Error(), true
		default:
			res.Status, res.Error = http.StatusBadRequest, pr.Err.Error()
		}
	}
}

func firstError(resp *EventsResponse) string {
	for _, res := range resp.Results {
		if !res.OK && !res.Retry {
			return fmt.Sprintf("line %d: %s", res.Line, res.Error)
		}
	}
	return ""
}

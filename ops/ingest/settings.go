package ingest

import (
	"fmt"
	"net/http"
	"strconv"
)

// handleSettings returns the current settings. With after=REVISION and a
// wait, it waits until the revision is above REVISION, so that a node
// learns of a change without polling often.
func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request) {
	wait, err := s.parseWait(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var after uint64
	if raw := r.URL.Query().Get("after"); raw != "" {
		after, err = strconv.ParseUint(raw, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("after %q: expected the revision of the settings the node has", truncate(raw)))
			return
		}
	}

	current, ready := s.cfg.Settings.Current()
	if ready && (current.Revision > after || wait == 0) {
		writeJSON(w, http.StatusOK, current)
		return
	}
	if !ready && wait == 0 {
		writeError(w, http.StatusServiceUnavailable, "settings not loaded yet: try again in a moment")
		return
	}
	ctx, cancel := s.pollContext(r, wait)
	defer cancel()
	got := s.cfg.Settings.Wait(ctx, after)
	if _, ready := s.cfg.Settings.Current(); !ready {
		writeError(w, http.StatusServiceUnavailable, "settings not loaded yet: try again in a moment")
		return
	}
	writeJSON(w, http.StatusOK, got)
}

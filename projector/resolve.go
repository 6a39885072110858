package projector

import (
	"slices"
	"strings"

	"github.com/clientele-xmpp/clientele/events"
)

// SoftwarePrefix starts a selector that matches clients by software name,
// as in "software/Gajim" or "software/Gajim/1.9.5".
const SoftwarePrefix = "software/"

// Target is a listed client with what a revoke of it must end: the live
// sessions, the grants and FAST tokens not yet revoked.
type Target struct {
	View      ClientView
	ClientID  string
	Resources []string
	Sessions  []events.SessionRef
	Grants    []string
	Fast      []string
}

// Resolve returns the listed clients of user that selector names: the client
// with that listing id, or every client whose software, and version when
// given, match a software selector. It returns nil when none matches.
func (s *State) Resolve(user, selector string, opt ViewOptions) []Target {
	a := s.Users[user]
	if a == nil || selector == "" {
		return nil
	}
	software, version, bySoftware := parseSoftware(selector)
	var out []Target
	for _, g := range a.groups() {
		v, ok := s.view(user, a, g, opt)
		if !ok {
			continue
		}
		if bySoftware && !matchSoftware(v.UserAgent, software, version) {
			continue
		}
		if !bySoftware && v.ID != selector {
			continue
		}
		out = append(out, s.target(a, g, v, opt))
	}
	slices.SortFunc(out, func(x, y Target) int { return strings.Compare(x.View.ID, y.View.ID) })
	return out
}

func parseSoftware(selector string) (software, version string, ok bool) {
	rest, ok := strings.CutPrefix(selector, SoftwarePrefix)
	if !ok || rest == "" {
		return "", "", false
	}
	software, version, _ = strings.Cut(rest, "/")
	return software, version, software != ""
}

func matchSoftware(ua UserAgent, software, version string) bool {
	if !strings.EqualFold(ua.Software, software) {
		return false
	}
	return version == "" || ua.Version == version
}

func (s *State) target(a *Account, g *group, v ClientView, opt ViewOptions) Target {
	t := Target{View: v}
	if id, ok := strings.CutPrefix(g.key, prefixClient); ok {
		t.ClientID = id
	}
	if res, ok := strings.CutPrefix(g.key, prefixResource); ok {
		t.Resources = []string{res}
	}
	revoked := a.revokedAt(v.ID)
	for _, ss := range g.sessions {
		if s.sessionLive(a, ss, revoked, opt) {
			t.Sessions = append(t.Sessions, events.SessionRef{Node: ss.Node, ID: ss.ID})
		}
	}
	for _, gr := range g.grants {
		if !gr.revoked && !gr.expired {
			t.Grants = append(t.Grants, gr.id)
		}
	}
	for _, f := range g.fast {
		if !f.revoked {
			t.Fast = append(t.Fast, unpackFingerprint(f.fingerprint))
		}
	}
	slices.SortFunc(t.Sessions, func(x, y events.SessionRef) int {
		return strings.Compare(x.Node+"/"+x.ID, y.Node+"/"+y.ID)
	})
	slices.Sort(t.Grants)
	slices.Sort(t.Fast)
	return t
}

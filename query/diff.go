package query

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clientele-xmpp/clientele/projector"
)

// Diff lists the clients of an account that gained, changed or lost access
// between an earlier and a later view. Each list is ordered by listing id.
type Diff struct {
	// Added are the clients listed only in the later view, as it shows them.
	Added []projector.ClientView `json:"added"`
	// Changed are the clients listed in both views whose listing differs in
	// more than the last-seen time, which changes with every use.
	Changed []ClientChange `json:"changed"`
	// Removed are the clients listed only in the earlier view, as it shows
	// them.
	Removed []projector.ClientView `json:"removed"`
}

// ClientChange is a client listed in both views of a Diff.
type ClientChange struct {
	ID string `json:"id"`
	// Fields are the JSON names of the listing fields that differ.
	Fields []string             `json:"fields"`
	Before projector.ClientView `json:"before"`
	After  projector.ClientView `json:"after"`
}

// FieldChange is one listing field that differs between two views of a
// client, with both values in text form.
type FieldChange struct {
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// viewFields are the fields of a listing, by JSON name, with their text
// form for comparison and display.
var viewFields = []struct {
	name  string
	value func(v projector.ClientView) string
}{
	{"type", func(v projector.ClientView) string { return v.Type }},
	{"connected", func(v projector.ClientView) string { return fmt.Sprint(v.Connected) }},
	{"auth", func(v projector.ClientView) string { return "[" + strings.Join(v.Auth, " ") + "]" }},
	{"permission", func(v projector.ClientView) string { return v.Permission }},
	{"legacy", func(v projector.ClientView) string { return fmt.Sprint(v.Legacy) }},
	{"user_agent", func(v projector.ClientView) string {
		ua := v.UserAgent
		return fmt.Sprintf("software=%q version=%q uri=%q device=%q", ua.Software, ua.Version, ua.URI, ua.Device)
	}},
	{"first_seen", func(v projector.ClientView) string { return v.FirstSeen.UTC().Format(time.RFC3339Nano) }},
	{"last_seen", func(v projector.ClientView) string { return v.LastSeen.UTC().Format(time.RFC3339Nano) }},
}

// CompareClient returns the fields in which two views of one client
// differ. It skips last_seen unless withLastSeen is set.
func CompareClient(before, after projector.ClientView, withLastSeen bool) []FieldChange {
	var out []FieldChange
	for _, f := range viewFields {
		if f.name == "last_seen" && !withLastSeen {
			continue
		}
		if b, a := f.value(before), f.value(after); b != a {
			out = append(out, FieldChange{Field: f.name, Before: b, After: a})
		}
	}
	return out
}

// CompareViews returns the difference from the client list before to the
// client list after, both of one account.
func CompareViews(before, after []projector.ClientView) Diff {
	d := Diff{Added: []projector.ClientView{}, Changed: []ClientChange{}, Removed: []projector.ClientView{}}
	earlier := make(map[string]projector.ClientView, len(before))
	for _, v := range before {
		earlier[v.ID] = v
	}
	later := make(map[string]bool, len(after))
	for _, v := range after {
		later[v.ID] = true
		old, ok := earlier[v.ID]
		if !ok {
			d.Added = append(d.Added, v)
			continue
		}
		if changes := CompareClient(old, v, false); len(changes) > 0 {
			c := ClientChange{ID: v.ID, Before: old, After: v}
			for _, ch := range changes {
				c.Fields = append(c.Fields, ch.Field)
			}
			d.Changed = append(d.Changed, c)
		}
	}
	for _, v := range before {
		if !later[v.ID] {
			d.Removed = append(d.Removed, v)
		}
	}
	byID := func(a, b projector.ClientView) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(d.Added, byID)
	slices.SortFunc(d.Removed, byID)
	slices.SortFunc(d.Changed, func(a, b ClientChange) int { return strings.Compare(a.ID, b.ID) })
	return d
}

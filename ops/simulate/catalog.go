package simulate

import "github.com/clientele-xmpp/clientele/events"

// software is one XMPP client program that simulated accounts use. The
// versions are sample values of each program's recent release line.
type software struct {
	name     string
	uri      string
	versions []string
	devices  []string
	// weight is the relative share of accounts that use this program.
	weight int
	// legacy clients authenticate without SASL2, so they have no client id and
	// the projection identifies them by their fixed resource.
	legacy bool
	// fast clients mint a FAST token after a password login and use it for
	// later logins.
	fast bool
	// hibernate clients use stream management and detach instead of closing.
	hibernate bool
	// oauth clients log in with the bearer token of an OAuth grant.
	oauth *oauthApp
}

// oauthApp is an OAuth client as its grants describe it.
type oauthApp struct {
	name            string
	uri             string
	softwareID      string
	softwareVersion string
	permission      string
	// shortLived apps get grants that expire within a few simulated hours.
	shortLived bool
}

var catalog = []software{
	{
		name: "Conversations", uri: "https://conversations.im/",
		versions: []string{"2.16.1", "2.16.4", "2.16.7"},
		devices:  []string{"Pixel 8", "Fairphone 5", "Galaxy S23"},
		weight:   20, fast: true, hibernate: true,
	},
	{
		name: "Cheogram", uri: "https://cheogram.com/",
		versions: []string{"2.15.3-4", "2.16.2-1"},
		devices:  []string{"Pixel 7a", "OnePlus 12"},
		weight:   5, fast: true, hibernate: true,
	},
	{
		name: "Monal", uri: "https://monal-im.org/",
		versions: []string{"6.4.4", "6.4.6", "6.4.9"},
		devices:  []string{"iPhone", "iPad", "MacBook Air"},
		weight:   12, fast: true, hibernate: true,
	},
	{
		name: "Siskin IM", uri: "https://siskin.im/",
		versions: []string{"7.2.1", "7.3"},
		devices:  []string{"iPhone"},
		weight:   4, hibernate: true,
	},
	{
		name: "Gajim", uri: "https://gajim.org/",
		versions: []string{"1.9.3", "1.9.5"},
		devices:  []string{"Desktop", "Laptop"},
		weight:   12, hibernate: true,
	},
	{
		name: "Dino", uri: "https://dino.im/",
		versions: []string{"0.4.3", "0.4.4", "0.4.5"},
		devices:  []string{"Laptop", "Workstation"},
		weight:   10, hibernate: true,
	},
	{
		name: "Movim", uri: "https://movim.eu/",
		versions: []string{"0.28", "0.29.1"},
		devices:  []string{"Browser"},
		weight:   5,
		oauth: &oauthApp{
			name: "Movim", uri: "https://movim.eu/", softwareID: "movim",
			softwareVersion: "0.29.1", permission: events.PermissionNormal,
		},
	},
	{
		name: "Psi+", uri: "https://psi-plus.com/",
		versions: []string{"1.5.1965", "1.5.2011"},
		devices:  []string{"Desktop"},
		weight:   3, hibernate: true,
	},
	{
		name: "Profanity", uri: "https://profanity-im.github.io/",
		versions: []string{"0.14.0", "0.15.0"},
		devices:  []string{"Terminal"},
		weight:   4, legacy: true, hibernate: true,
	},
	{
		name: "Pidgin", uri: "https://pidgin.im/",
		versions: []string{"2.14.13", "2.14.14"},
		devices:  []string{"Desktop"},
		weight:   3, legacy: true,
	},
}

// accessApps are OAuth clients that use their grants only over HTTP APIs and
// never open an XMPP session.
var accessApps = []oauthApp{
	{
		name: "Account backup", uri: "https://backup.example.org/", softwareID: "org.example.backup",
		softwareVersion: "1.4.2", permission: events.PermissionRestricted,
	},
	{
		name: "Calendar sync", uri: "https://calendar.example.org/", softwareID: "org.example.calendar",
		softwareVersion: "3.0.1", permission: events.PermissionNormal, shortLived: true,
	},
	{
		name: "Server dashboard", uri: "https://dashboard.example.org/", softwareID: "org.example.dashboard",
		softwareVersion: "0.9.0", permission: events.PermissionUnrestricted,
	},
	{
		name: "Photo uploader", uri: "https://photos.example.org/", softwareID: "org.example.photos",
		softwareVersion: "2.2.0", permission: events.PermissionRestricted, shortLived: true,
	},
}

// mechanisms are the SASL mechanisms of password logins, with their
// relative weights.
var mechanisms = []struct {
	name   string
	weight int
}{
	{"SCRAM-SHA-256", 12},
	{"SCRAM-SHA-1", 5},
	{"PLAIN", 3},
}

var catalogWeight = func() int {
	total := 0
	for _, s := range catalog {
		total += s.weight
	}
	return total
}()

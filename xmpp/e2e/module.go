package e2e

import (
	"fmt"
	"path/filepath"
	"runtime"
)

// DefaultNodeID is the clientele_node_id of a Prosody with mod_clientele
// when ClienteleModule.NodeID is empty.
const DefaultNodeID = "xmpp-e2e"

// ClienteleModule loads mod_clientele, from contrib/prosody of this
// repository, into a Prosody of StartProsody.
type ClienteleModule struct {
	// URL is clientele's node interface, such as "http://127.0.0.1:9751".
	URL string
	// TokenFile contains a token of clientele's --ingest-token-file.
	TokenFile string
	// NodeID is clientele_node_id; DefaultNodeID when empty.
	NodeID string
	// Options are more global option lines, such as
	// "clientele_heartbeat_interval = 5".
	Options []string
}

func (m *ClienteleModule) nodeID() string {
	if m.NodeID == "" {
		return DefaultNodeID
	}
	return m.NodeID
}

// options returns the module's option lines. clientele_retry_max is one
// second, so that a module whose clientele starts after Prosody reaches it
// soon, unless Options sets it.
func (m *ClienteleModule) options() []string {
	return append([]string{
		fmt.Sprintf("clientele_url = %s", luaString(m.URL)),
		fmt.Sprintf("clientele_token_file = %s", luaString(m.TokenFile)),
		fmt.Sprintf("clientele_node_id = %s", luaString(m.nodeID())),
		"clientele_retry_max = 1",
	}, m.Options...)
}

// ModuleDir returns the absolute path of contrib/prosody, the folder of
// mod_clientele.lua.
func ModuleDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "contrib", "prosody")
}

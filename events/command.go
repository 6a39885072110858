package events

import (
	"encoding/json"
	"fmt"
	"time"
)

// CommandRevoke is the type of a revoke command.
const CommandRevoke = "revoke"

// Command is an order to the nodes that serve an account: end these sessions
// and delete these tokens. It names concrete sessions, grants and tokens,
// because nodes do not know the listing ids that users see.
type Command struct {
	ID     string    `json:"id"`
	Type   string    `json:"type"`
	Time   time.Time `json:"time"`
	User   string    `json:"user"`
	Target string    `json:"target"`
	Actor  string    `json:"actor,omitempty"`

	// ClientID is the SASL2 client id of the revoked client, if it has one.
	ClientID string `json:"client_id,omitempty"`
	// Resources lists the resources of a legacy client, which has no client id.
	Resources []string     `json:"resources,omitempty"`
	Sessions  []SessionRef `json:"sessions,omitempty"`
	Grants    []string     `json:"grants,omitempty"`
	Fast      []string     `json:"fast,omitempty"`
}

// SessionRef names one session by the node that hosts it and its id there.
type SessionRef struct {
	Node string `json:"node"`
	ID   string `json:"id"`
}

// DecodeCommand parses a command in its wire form.
func DecodeCommand(data []byte) (*Command, error) {
	c := new(Command)
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("%w: command: %v", ErrMalformed, err)
	}
	if c.ID == "" || c.User == "" || c.Type == "" {
		return nil, fmt.Errorf("%w: command: id, type and user are required", ErrInvalid)
	}
	return c, nil
}

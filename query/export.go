package query

import (
	"context"
	"time"

	"github.com/clientele-xmpp/clientele/projector"
)

// ExportFormat is the version of the Export document.
const ExportFormat = 1

// Export is the data that clientele stores about one account, for the
// account's owner: its current clients and every stored event. IP addresses older
// than the service's IP maximum age are left out.
type Export struct {
	Format   int                    `json:"format"`
	User     string                 `json:"user"`
	Exported time.Time              `json:"exported"`
	Clients  []projector.ClientView `json:"clients"`
	Events   []HistoryEntry         `json:"events"`
}

// Export returns the export of user, from a List and a History of the
// whole history. Errors wrap ErrBadRequest, ErrUnavailable or ErrTimeout.
func (c *Client) Export(ctx context.Context, user string) (*Export, error) {
	list, err := c.List(ctx, ListRequest{User: user})
	if err != nil {
		return nil, err
	}
	history, err := c.History(ctx, HistoryRequest{User: list.User})
	if err != nil {
		return nil, err
	}
	return &Export{
		Format: ExportFormat, User: list.User, Exported: time.Now().UTC(),
		Clients: list.Clients, Events: history.Entries,
	}, nil
}

package orchestrator

import (
	"context"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/page"
)

// MessageFilter narrows the list of every agent's messages: to one type
// ("" for all), and to those one agent sent or received (nil for all).
type MessageFilter struct {
	Type    string
	AgentID *uuid.UUID
}

// Shows reports whether a message belongs on a list with this filter.
func (f MessageFilter) Shows(m Message) bool {
	return (f.Type == "" || f.Type == m.Type) &&
		(f.AgentID == nil || m.RecipientID == *f.AgentID || (m.SenderID != nil && *m.SenderID == *f.AgentID))
}

// AllMessages lists every agent's messages that pass the filter, newest
// first.
func (s *Service) AllMessages(ctx context.Context, f MessageFilter, cursor string, limit int) (MessagePage, error) {
	params := db.MessageListAllParams{AgentID: f.AgentID}
	if typ := f.Type; typ != "" {
		if !slices.Contains(MessageTypes(), typ) {
			return MessagePage{}, apperr.E(apperr.Invalid, "type %q is not one of %s", apperr.Truncate(typ, 32), strings.Join(MessageTypes(), ", "))
		}
		params.Type = &typ
	}
	c, limit, err := page.Parse(cursor, limit)
	if err != nil {
		return MessagePage{}, err
	}
	params.MaxRows = int32(limit + 1)
	if c != nil {
		params.CursorCreatedAt, params.CursorID = &c.CreatedAt, &c.ID
	}
	rows, err := s.queries.MessageListAll(ctx, params)
	if err != nil {
		return MessagePage{}, db.MapError(err, "messages")
	}
	var out MessagePage
	out.Items, out.NextCursor = page.Build(rows, limit, func(r db.Message) page.Cursor { return page.Cursor{CreatedAt: r.CreatedAt, ID: r.ID} }, messageFromRow)
	return out, nil
}

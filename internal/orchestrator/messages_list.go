package orchestrator

import (
	"context"
	"slices"
	"strings"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/page"
)

// AllMessages lists every agent's messages, newest first; typ ("" for all)
// keeps one message type.
func (s *Service) AllMessages(ctx context.Context, typ, cursor string, limit int) (MessagePage, error) {
	params := db.MessageListAllParams{}
	if typ != "" {
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

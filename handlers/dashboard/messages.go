package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/views"
)

const messagesPageSize = 50

func (h *Handler) messagesList(c echo.Context) error {
	ctx := c.Request().Context()
	typ, cursor := c.QueryParam("type"), c.QueryParam("cursor")
	page, err := h.deps.Messages.AllMessages(ctx, typ, cursor, messagesPageSize)
	if err != nil {
		return err
	}
	names, err := h.agentNames(ctx)
	if err != nil {
		return err
	}
	p := views.MessagesPage{
		Frame:    frame(c, "Messages", views.URLMessages, views.URLLiveFor(livePageMessages, c.QueryParams())),
		Messages: page.Items, Type: typ, Agents: names, OnFirst: cursor == "", Now: time.Now(),
	}
	if page.NextCursor != "" {
		q := url.Values{"cursor": {page.NextCursor}}
		if typ != "" {
			q.Set("type", typ)
		}
		p.NextURL = views.URLMessages + "?" + q.Encode()
	}
	return h.render(c, http.StatusOK, views.MessagesList(p))
}

// agentNames labels messages with agent names (agents are few: one page).
func (h *Handler) agentNames(ctx context.Context) (map[uuid.UUID]string, error) {
	list, err := h.deps.Agents.List(ctx, "", "", "", 200)
	if err != nil {
		return nil, err
	}
	return views.AgentNames(list.Items), nil
}

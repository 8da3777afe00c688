package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/orchestrator"
	"github.com/bizmcp/bizmcp/views"
)

const messagesPageSize = 50

// parseMessageFilter reads the messages list's filter (type, agent) from
// the URL, refusing values that are not allowed (400 naming them) rather
// than showing nothing. The live channel reads the same parameters.
func parseMessageFilter(q url.Values) (views.MessageFilter, orchestrator.MessageFilter, error) {
	vf := views.MessageFilter{Type: q.Get("type"), Agent: q.Get("agent")}
	of := orchestrator.MessageFilter{Type: vf.Type}
	if err := checkChoices(choice{"type", vf.Type, orchestrator.MessageTypes()}); err != nil {
		return vf, of, err
	}
	if vf.Agent != "" {
		id, err := uuid.Parse(vf.Agent)
		if err != nil {
			return vf, of, apperr.E(apperr.Invalid, "agent %q is not an agent id", apperr.Truncate(vf.Agent, 40))
		}
		of.AgentID = &id
	}
	return vf, of, nil
}

func (h *Handler) messagesList(c echo.Context) error {
	ctx := c.Request().Context()
	vf, of, err := parseMessageFilter(c.QueryParams())
	if err != nil {
		return err
	}
	cursor := c.QueryParam("cursor")
	page, err := h.deps.Messages.AllMessages(ctx, of, cursor, messagesPageSize)
	if err != nil {
		return err
	}
	agentPage, err := h.deps.Agents.List(ctx, "", "", "", agentNamesLimit)
	if err != nil {
		return err
	}
	p := views.MessagesPage{
		Frame:    frame(c, "Messages", views.URLMessages, views.URLLiveFor(livePageMessages, c.QueryParams())),
		Messages: page.Items, Filter: vf, Agents: views.AgentNames(agentPage.Items), AgentChoices: agentPage.Items,
		OnFirst: cursor == "", Now: time.Now(),
	}
	if page.NextCursor != "" {
		p.NextURL = views.URLMessagesList(vf, page.NextCursor)
	}
	return h.render(c, http.StatusOK, views.MessagesList(p))
}

// agentNamesLimit is how many agents label messages and fill the agent
// filter (agents are few: one page).
const agentNamesLimit = 200

// agentNames labels messages with agent names.
func (h *Handler) agentNames(ctx context.Context) (map[uuid.UUID]string, error) {
	list, err := h.deps.Agents.List(ctx, "", "", "", agentNamesLimit)
	if err != nil {
		return nil, err
	}
	return views.AgentNames(list.Items), nil
}

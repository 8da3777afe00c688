package dashboard

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/handlers/web"
	"github.com/bizmcp/bizmcp/internal/agents"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/orchestrator"
	"github.com/bizmcp/bizmcp/views"
)

const agentsPageSize = 48

func (h *Handler) agentsList(c echo.Context) error {
	return h.renderAgents(c, http.StatusOK, views.AgentForm{Type: "finance", Errors: views.FieldErrors{}})
}

func (h *Handler) renderAgents(c echo.Context, status int, form views.AgentForm) error {
	typ, st, cursor := c.QueryParam("type"), c.QueryParam("status"), c.QueryParam("cursor")
	for _, f := range []struct {
		name, value string
		allowed     []string
	}{{"type", typ, agents.Types()}, {"status", st, agents.Statuses()}} {
		if f.value != "" && !slices.Contains(f.allowed, f.value) {
			return apperr.E(apperr.Invalid, "%s %q is not one of %s", f.name, apperr.Truncate(f.value, 32), strings.Join(f.allowed, ", "))
		}
	}
	page, err := h.deps.Agents.List(c.Request().Context(), typ, st, cursor, agentsPageSize)
	if err != nil {
		return err
	}
	p := views.AgentsPage{
		Frame:  frame(c, "Agents", views.URLAgents, views.URLLiveFor(livePageAgents, c.QueryParams())),
		Agents: page.Items, Type: typ, Status: st, OnFirst: cursor == "", Now: time.Now(), Form: form,
	}
	if page.NextCursor != "" {
		p.NextURL = views.URLAgentsList(typ, st, page.NextCursor)
	}
	return h.render(c, status, views.AgentsList(p))
}

// agentCapabilities answers the create form's type switch with the boxes
// valid for that type.
func (h *Handler) agentCapabilities(c echo.Context) error {
	typ := c.QueryParam("type")
	if !slices.Contains(agents.Types(), typ) {
		return apperr.E(apperr.Invalid, "type %q is not one of %s", apperr.Truncate(typ, 32), strings.Join(agents.Types(), ", "))
	}
	return h.render(c, http.StatusOK, views.CapabilityBoxes(typ, nil, nil))
}

// agentCreate creates an agent with the same rules (and messages) as the
// REST API; a mistake re-shows the form under the list.
func (h *Handler) agentCreate(c echo.Context) error {
	values, _ := c.FormParams()
	form := views.AgentForm{
		Name: echoable(c.FormValue("name")), Type: c.FormValue("type"), Description: echoable(c.FormValue("description")),
		Capabilities: values["capabilities"], Errors: views.FieldErrors{},
	}
	if form.Capabilities == nil {
		form.Capabilities = []string{}
	}
	a, err := h.deps.Agents.Create(c.Request().Context(), agents.CreateParams{
		Name: c.FormValue("name"), Type: form.Type, Description: c.FormValue("description"), Capabilities: form.Capabilities,
	})
	if err != nil {
		if !apperr.Is(err, apperr.Invalid) {
			return err
		}
		if !slices.Contains(agents.Types(), form.Type) {
			form.Type = "finance"
		}
		switch field := apperr.FieldOf(err); field {
		case "name", "type", "description", "capabilities":
			form.Errors[field] = apperr.MessageOf(err)
		default:
			form.FormError = apperr.MessageOf(err)
		}
		return h.renderAgents(c, http.StatusUnprocessableEntity, form)
	}
	return c.Redirect(http.StatusSeeOther, views.URLAgent(a.ID))
}

func (h *Handler) agentDetail(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	a, err := h.deps.Agents.Get(ctx, id)
	if err != nil {
		return err
	}
	tasks, err := h.deps.Tasks.List(ctx, orchestrator.Filter{AgentID: &id}, c.QueryParam("cursor"), 20)
	if err != nil {
		return err
	}
	msgs, err := h.deps.Messages.Messages(ctx, id, "", 20)
	if err != nil {
		return err
	}
	p := views.AgentDetailPage{
		Frame: frame(c, a.Name, views.URLAgents, views.URLLiveFor(livePageAgents, url.Values{})),
		Agent: a, Tasks: tasks.Items, Messages: msgs.Items, Now: time.Now(),
	}
	if tasks.NextCursor != "" {
		p.TasksNext = views.URLTasksList(views.TaskFilter{Agent: id.String()}, tasks.NextCursor)
	}
	return h.render(c, http.StatusOK, views.AgentDetail(p))
}

// agentStatus pauses (status=paused) or resumes (status=idle) an agent.
func (h *Handler) agentStatus(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	st := c.FormValue("status")
	if st != "paused" && st != "idle" {
		return apperr.E(apperr.Invalid, "status must be paused or idle")
	}
	if _, err := h.deps.Agents.Update(c.Request().Context(), id, agents.UpdateParams{Status: &st}); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, views.URLAgent(id))
}

// agentDelete deletes an agent; a busy one is a 409 whose message says so.
func (h *Handler) agentDelete(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	if err := h.deps.Agents.Delete(c.Request().Context(), id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, views.URLAgents)
}

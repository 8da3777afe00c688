package dashboard

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
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
	if err := checkChoices(choice{"type", typ, agents.Types()}, choice{"status", st, agents.Statuses()}); err != nil {
		return err
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
	if err := oneOf("type", typ, agents.Types()); err != nil {
		return err
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
	form.MaxConcurrency = echoable(c.FormValue("max_concurrency"))
	conc, err := formInt("max_concurrency", c.FormValue("max_concurrency"))
	if err == nil {
		var a agents.Agent
		a, err = h.deps.Agents.Create(c.Request().Context(), agents.CreateParams{
			Name: c.FormValue("name"), Type: form.Type, Description: c.FormValue("description"), Capabilities: form.Capabilities,
			MaxConcurrency: conc,
		})
		if err == nil {
			return c.Redirect(http.StatusSeeOther, views.URLAgent(a.ID))
		}
	}
	if !apperr.Is(err, apperr.Invalid) {
		return err
	}
	if !slices.Contains(agents.Types(), form.Type) {
		form.Type = "finance"
	}
	switch field := apperr.FieldOf(err); field {
	case "name", "type", "description", "capabilities", "max_concurrency":
		form.Errors[field] = apperr.MessageOf(err)
	default:
		form.FormError = apperr.MessageOf(err)
	}
	return h.renderAgents(c, http.StatusUnprocessableEntity, form)
}

// formInt reads an optional whole number from a form field: nil when
// empty, a 400 naming the field when it is not a number.
func formInt(field, raw string) (*int, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return nil, apperr.E(apperr.Invalid, "%s must be a whole number", field).For(field)
	}
	return &n, nil
}

func (h *Handler) agentDetail(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	a, err := h.deps.Agents.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return h.renderAgentDetail(c, http.StatusOK, a, strconv.Itoa(a.MaxConcurrency), views.FieldErrors{})
}

// renderAgentDetail shows an agent, with the concurrency field as typed and
// its error when a change was refused.
func (h *Handler) renderAgentDetail(c echo.Context, status int, a agents.Agent, concurrency string, errs views.FieldErrors) error {
	id := a.ID
	ctx := c.Request().Context()
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
		Agent: a, Tasks: tasks.Items, Messages: msgs.Items, Now: time.Now(), ConcurrencyValue: concurrency, Errors: errs,
	}
	if tasks.NextCursor != "" {
		p.TasksNext = views.URLTasksList(views.TaskFilter{Agent: id.String()}, tasks.NextCursor)
	}
	return h.render(c, status, views.AgentDetail(p))
}

// agentConcurrency changes how many tasks an agent runs at once, by the
// rule the REST API applies; a refused value is shown under the field.
func (h *Handler) agentConcurrency(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	raw := c.FormValue("max_concurrency")
	n, err := formInt("max_concurrency", raw)
	if err == nil && n == nil {
		err = apperr.E(apperr.Invalid, "max_concurrency is required").For("max_concurrency")
	}
	if err == nil {
		if _, err = h.deps.Agents.Update(c.Request().Context(), id, agents.UpdateParams{MaxConcurrency: n}); err == nil {
			return c.Redirect(http.StatusSeeOther, views.URLAgent(id))
		}
	}
	if !apperr.Is(err, apperr.Invalid) {
		return err
	}
	a, gerr := h.deps.Agents.Get(c.Request().Context(), id)
	if gerr != nil {
		return gerr
	}
	return h.renderAgentDetail(c, http.StatusUnprocessableEntity, a, echoable(raw), views.FieldErrors{"max_concurrency": apperr.MessageOf(err)})
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

package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/handlers/web"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/orchestrator"
	"github.com/bizmcp/bizmcp/views"
)

// tasksPageSize is how many tasks a page of the list shows.
const tasksPageSize = 25

// parseTaskFilter reads the list's filter from the URL, refusing values
// that are not allowed (400 naming them) rather than showing nothing.
func parseTaskFilter(q url.Values) (views.TaskFilter, orchestrator.Filter, error) {
	vf := views.TaskFilter{Status: q.Get("status"), Domain: q.Get("domain"), Priority: q.Get("priority"), Agent: q.Get("agent"),
		CreatedFrom: strings.TrimSpace(q.Get("created_from")), CreatedTo: strings.TrimSpace(q.Get("created_to"))}
	of := orchestrator.Filter{Status: vf.Status, Domain: vf.Domain, Priority: vf.Priority}
	var err error
	if of.CreatedFrom, of.CreatedBefore, err = orchestrator.ParseCreatedRange(vf.CreatedFrom, vf.CreatedTo); err != nil {
		return vf, of, err
	}
	if err := checkChoices(choice{"status", vf.Status, views.TaskStatuses()}, choice{"domain", vf.Domain, views.TaskDomains()},
		choice{"priority", vf.Priority, views.TaskPriorities()}); err != nil {
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

func (h *Handler) tasksList(c echo.Context) error {
	ctx := c.Request().Context()
	vf, of, err := parseTaskFilter(c.QueryParams())
	if err != nil {
		return err
	}
	cursor := c.QueryParam("cursor")
	page, err := h.deps.Tasks.List(ctx, of, cursor, tasksPageSize)
	if err != nil {
		return err
	}
	agentPage, err := h.deps.Agents.List(ctx, "", "", "", 100)
	if err != nil {
		return err
	}
	p := views.TasksPage{
		Frame: frame(c, "Tasks", views.URLTasks, views.URLLiveFor(livePageTasks, c.QueryParams())),
		Tasks: page.Items, Filter: vf, Agents: agentPage.Items, OnFirst: cursor == "", Now: time.Now(),
	}
	if page.NextCursor != "" {
		p.NextURL = views.URLTasksList(vf, page.NextCursor)
	}
	return h.render(c, http.StatusOK, views.TasksList(p))
}

func (h *Handler) taskNew(c echo.Context) error {
	domain := c.QueryParam("domain")
	if !slices.Contains(views.TaskDomains(), domain) {
		domain = "finance"
	}
	form := views.TaskForm{Domain: domain, Priority: "medium", Input: string(orchestrator.ExampleInput(domain)), Errors: views.FieldErrors{}}
	return h.render(c, http.StatusOK, views.TaskNewPage(frame(c, "Create a task", views.URLTasks, ""), form))
}

// taskExample answers the create form's domain switch with that domain's
// example input.
func (h *Handler) taskExample(c echo.Context) error {
	domain := c.QueryParam("domain")
	if err := oneOf("domain", domain, views.TaskDomains()); err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.TaskInputField(string(orchestrator.ExampleInput(domain)), nil))
}

// taskCreate creates a task from the form and goes to its page; mistakes
// come back next to their fields, with the input kept.
func (h *Handler) taskCreate(c echo.Context) error {
	form := views.TaskForm{
		Title: echoable(c.FormValue("title")), Description: echoable(c.FormValue("description")),
		Domain: c.FormValue("domain"), Priority: c.FormValue("priority"),
		Timeout: echoable(strings.TrimSpace(c.FormValue("timeout"))), Input: echoable(c.FormValue("input")),
		Errors: views.FieldErrors{},
	}
	params := orchestrator.CreateParams{Title: c.FormValue("title"), Description: c.FormValue("description"), Domain: form.Domain, Priority: form.Priority}
	if !slices.Contains(views.TaskDomains(), form.Domain) {
		form.Errors["domain"] = "choose one of the offered domains"
		form.Domain = "finance"
	}
	if form.Timeout != "" {
		n, err := strconv.Atoi(form.Timeout)
		if err != nil || n < 1 || n > 86400 {
			form.Errors["timeout"] = "enter a whole number of seconds from 1 to 86400, or leave it empty for the default"
		} else {
			params.TimeoutSeconds = n
		}
	}
	input := strings.TrimSpace(c.FormValue("input"))
	if input == "" {
		input = "{}"
	}
	if !json.Valid([]byte(input)) {
		form.Errors["input"] = "the input is not valid JSON: check quotes, commas and brackets"
	} else {
		params.InputData = json.RawMessage(input)
	}
	f := frame(c, "Create a task", views.URLTasks, "")
	if len(form.Errors) > 0 {
		return h.render(c, http.StatusUnprocessableEntity, views.TaskNewPage(f, form))
	}
	created, err := h.deps.Tasks.Create(c.Request().Context(), params)
	if err != nil {
		if !apperr.Is(err, apperr.Invalid) && !apperr.Is(err, apperr.TooLarge) {
			return err
		}
		field := apperr.FieldOf(err)
		switch field {
		case "title", "description", "domain", "priority":
		case "input_data":
			field = "input"
		case "timeout_seconds":
			field = "timeout"
		default:
			field = ""
		}
		if field == "" {
			form.FormError = apperr.MessageOf(err)
		} else {
			form.Errors[field] = apperr.MessageOf(err)
		}
		return h.render(c, http.StatusUnprocessableEntity, views.TaskNewPage(f, form))
	}
	return c.Redirect(http.StatusSeeOther, views.URLTask(created.Task.ID))
}

func (h *Handler) taskDetail(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	live, err := h.taskLive(c.Request().Context(), id)
	if err != nil {
		return err
	}
	p := views.TaskDetailPage{
		Frame: frame(c, live.Task.Title, views.URLTasks, views.URLLiveFor(livePageTask, url.Values{"id": {id.String()}})),
		Task:  live.Task, Live: live,
	}
	children, err := h.deps.Tasks.List(ctx, orchestrator.Filter{ParentTaskID: &id}, "", 50)
	if err != nil {
		return err
	}
	p.Children = children.Items
	return h.render(c, http.StatusOK, views.TaskDetail(p))
}

func (h *Handler) taskLive(ctx context.Context, id uuid.UUID) (views.TaskLive, error) {
	t, err := h.deps.Tasks.Get(ctx, id)
	if err != nil {
		return views.TaskLive{}, err
	}
	timeline, err := h.deps.Tasks.Timeline(ctx, id)
	if err != nil {
		return views.TaskLive{}, err
	}
	live := views.TaskLive{Task: t, Timeline: timeline, Now: time.Now()}
	if t.AgentID != nil {
		// A deleted agent leaves the task without one to link.
		if a, err := h.deps.Agents.Get(ctx, *t.AgentID); err == nil {
			live.Agent = &a
		}
	}
	return live, nil
}

// taskAction cancels or retries one task. With htmx the page changes
// through the live channel; without, the browser returns to the task. A
// refusal (a finished task cannot be cancelled) is a 409 whose message the
// page shows.
func (h *Handler) taskAction(do func(TaskService, context.Context, uuid.UUID) (orchestrator.Task, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := web.PathUUID(c, "id")
		if err != nil {
			return err
		}
		if _, err := do(h.deps.Tasks, c.Request().Context(), id); err != nil {
			return err
		}
		if isHTMX(c) {
			return c.NoContent(http.StatusNoContent)
		}
		return c.Redirect(http.StatusSeeOther, views.URLTask(id))
	}
}

// maxBulkCancel bounds one bulk cancel: more than a page of tasks is not
// something a person ticked.
const maxBulkCancel = 100

// tasksCancel cancels the tasks ticked on the list. Tasks that finished
// meanwhile are skipped, not an error: the person's intent is met.
func (h *Handler) tasksCancel(c echo.Context) error {
	values, err := c.FormParams()
	if err != nil {
		return apperr.E(apperr.Invalid, "the form could not be read")
	}
	ids := values["ids"]
	if len(ids) == 0 {
		return apperr.E(apperr.Invalid, "tick the tasks to cancel first")
	}
	if len(ids) > maxBulkCancel {
		return apperr.E(apperr.Invalid, "at most %d tasks can be cancelled at once", maxBulkCancel)
	}
	ctx := c.Request().Context()
	for _, raw := range ids {
		id, err := uuid.Parse(raw)
		if err != nil {
			return apperr.E(apperr.Invalid, "%q is not a task id", apperr.Truncate(raw, 40))
		}
		if _, err := h.deps.Tasks.Cancel(ctx, id); err != nil && !apperr.Is(err, apperr.Conflict) {
			return err
		}
	}
	back := c.Request().Referer()
	if p, err := parseLocal(back); err == nil && strings.HasPrefix(p, views.URLTasks) {
		return c.Redirect(http.StatusSeeOther, p)
	}
	return c.Redirect(http.StatusSeeOther, views.URLTasks)
}

package dashboard

import (
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/handlers/web"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/stats"
	"github.com/bizmcp/bizmcp/internal/tools"
	"github.com/bizmcp/bizmcp/views"
)

const executionsPageSize = 25

// viewer is the signed-in operator as the services see a caller: the admin
// key behind the session.
func viewer(c echo.Context) auth.Principal {
	s, _ := sessionOf(c)
	return auth.Principal{KeyID: s.KeyID, Name: s.KeyName, Prefix: s.KeyPrefix, Scopes: []auth.Scope{auth.ScopeAdmin}}
}

// recentRuns is how many runs the catalogue shows under it; the history
// page has them all.
const recentRuns = 10

func (h *Handler) toolsList(c echo.Context) error {
	ctx := c.Request().Context()
	list, err := h.deps.Tools.Registry().List(ctx)
	if err != nil {
		return err
	}
	runs, err := h.deps.Tools.ListExecutions(ctx, viewer(c), tools.ExecutionFilter{}, "", recentRuns)
	if err != nil {
		return err
	}
	// Runs and p50 per tool come from the cached aggregates: never a count
	// of mcp.tool_executions per page view.
	st, err := h.deps.Stats.Overview(ctx)
	if err != nil {
		return err
	}
	usage := make(map[string]stats.ToolLatency, len(st.Latency))
	for _, l := range st.Latency {
		usage[l.Tool] = l
	}
	return h.render(c, http.StatusOK, views.ToolsList(views.ToolsPage{
		Frame: frame(c, "Tools", views.URLTools, ""), Tools: list, Usage: usage, Executions: runs.Items, Now: time.Now(),
	}))
}

// toolStatus enables (status=active) or disables (status=disabled) a tool,
// as PATCH /api/v1/admin/tools/{name} does, and returns to the catalogue.
func (h *Handler) toolStatus(c echo.Context) error {
	st := c.FormValue("status")
	if st != tools.StatusActive && st != tools.StatusDisabled {
		return apperr.E(apperr.Invalid, "status must be active or disabled")
	}
	if err := h.deps.Tools.Registry().SetStatus(c.Request().Context(), c.Param("name"), st); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, views.URLTools)
}

// parseExecFilter reads the history's filter from the URL, refusing values
// that are not allowed (400 naming them) rather than showing nothing.
func parseExecFilter(q url.Values, names []string) (views.ExecFilter, tools.ExecutionFilter, error) {
	vf := views.ExecFilter{Tool: q.Get("tool"), Source: q.Get("source"), Failed: q.Get("failed")}
	tf := tools.ExecutionFilter{Tool: vf.Tool, Source: vf.Source}
	if err := checkChoices(choice{"tool", vf.Tool, names}, choice{"source", vf.Source, tools.Sources()},
		choice{"failed", vf.Failed, views.FailedChoices()}); err != nil {
		return vf, tf, err
	}
	if vf.Failed != "" {
		failed := vf.Failed == "yes"
		tf.Failed = &failed
	}
	return vf, tf, nil
}

// executionsList is the history of tool runs, newest first, filtered by
// tool, source and outcome.
func (h *Handler) executionsList(c echo.Context) error {
	ctx := c.Request().Context()
	names := h.deps.Tools.Registry().Names()
	vf, tf, err := parseExecFilter(c.QueryParams(), names)
	if err != nil {
		return err
	}
	cursor := c.QueryParam("cursor")
	runs, err := h.deps.Tools.ListExecutions(ctx, viewer(c), tf, cursor, executionsPageSize)
	if err != nil {
		return err
	}
	p := views.ExecutionsPage{
		Frame: frame(c, "Tool runs", views.URLTools, ""), Executions: runs.Items, Filter: vf, ToolNames: names,
		OnFirst: cursor == "", Now: time.Now(),
	}
	if runs.NextCursor != "" {
		p.NextURL = views.URLToolExecutionsList(vf, runs.NextCursor)
	}
	return h.render(c, http.StatusOK, views.ExecutionsList(p))
}

// executionDetail is one run in full.
func (h *Handler) executionDetail(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	e, err := h.deps.Tools.GetExecution(ctx, viewer(c), id)
	if err != nil {
		return err
	}
	p := views.ExecutionPage{Frame: frame(c, "Run of "+e.ToolName, views.URLTools, ""), Execution: e, Now: time.Now()}
	if e.APIKeyID != nil {
		// The key's name is a label: a key that is gone leaves its id.
		if k, err := h.deps.Keys.Get(ctx, *e.APIKeyID); err == nil {
			p.KeyName = k.Name
		}
	}
	return h.render(c, http.StatusOK, views.ExecutionDetail(p))
}

func (h *Handler) toolInfo(c echo.Context) (tools.Info, error) {
	name := c.Param("name")
	list, err := h.deps.Tools.Registry().List(c.Request().Context())
	if err != nil {
		return tools.Info{}, err
	}
	for _, t := range list {
		if t.Name == name {
			return t, nil
		}
	}
	return tools.Info{}, apperr.E(apperr.NotFound, "there is no tool %q; the Tools page lists them", apperr.Truncate(name, 64))
}

func (h *Handler) toolForm(c echo.Context) error {
	t, err := h.toolInfo(c)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.ToolRun(views.ToolRunPage{
		Frame: frame(c, "Run "+t.Name, views.URLTools, ""), Tool: t, Fields: views.SchemaFields(t.InputSchema),
		Values: map[string]string{}, Errors: views.FieldErrors{}, Now: time.Now(),
	}))
}

// toolRun runs a tool with the arguments of its generated form, recorded as
// a dashboard run of the signed-in key, and shows the result under the form.
func (h *Handler) toolRun(c echo.Context) error {
	t, err := h.toolInfo(c)
	if err != nil {
		return err
	}
	p := views.ToolRunPage{
		Frame: frame(c, "Run "+t.Name, views.URLTools, ""), Tool: t, Fields: views.SchemaFields(t.InputSchema),
		Values: map[string]string{}, Errors: views.FieldErrors{}, Now: time.Now(),
	}
	args := map[string]any{}
	for _, f := range p.Fields {
		raw := c.FormValue(f.Name)
		p.Values[f.Name] = echoable(raw)
		if msg := textProblem(f.Name, raw); msg != "" {
			p.Errors[f.Name] = msg
			continue
		}
		raw = strings.TrimSpace(raw)
		if raw == "" {
			if f.Required {
				p.Errors[f.Name] = f.Name + " is required"
			}
			continue
		}
		if v, msg := formArgument(f, raw); msg != "" {
			p.Errors[f.Name] = msg
		} else {
			args[f.Name] = v
		}
	}
	if len(p.Errors) > 0 {
		return h.render(c, http.StatusUnprocessableEntity, views.ToolRun(p))
	}
	body, err := json.Marshal(args)
	if err != nil {
		return err
	}
	s := viewer(c)
	exec, err := h.deps.Tools.Execute(c.Request().Context(), tools.Request{
		Tool: t.Name, Arguments: body, Source: tools.SourceDashboard, APIKeyID: &s.KeyID,
	})
	if err != nil {
		switch apperr.CodeOf(err) {
		case apperr.Invalid, apperr.TooLarge, apperr.Unavailable, apperr.Conflict:
			p.FormError = apperr.MessageOf(err)
			return h.render(c, statusOf(err), views.ToolRun(p))
		}
		return err
	}
	p.Result = &exec
	return h.render(c, http.StatusOK, views.ToolRun(p))
}

// statusOf is the status of a run form the tool refused: 422 for bad
// arguments (the form is shown again to correct them), else the error's
// own (409 for a disabled tool, 503 for a provider that is down), so that
// a refusal is never a 200.
func statusOf(err error) int {
	if apperr.Is(err, apperr.Invalid) {
		return http.StatusUnprocessableEntity
	}
	return web.StatusOf(apperr.CodeOf(err))
}

// formArgument converts a form value to the JSON type its schema field
// wants, or says what is wrong with it.
func formArgument(f views.SchemaField, raw string) (any, string) {
	switch {
	case f.Kind == "integer" || (f.Kind == "select" && f.Numeric && !strings.Contains(raw, ".")):
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			if f.Kind == "select" {
				break
			}
			return nil, f.Name + " must be a whole number"
		}
		return n, ""
	case f.Kind == "boolean":
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return nil, f.Name + " must be yes or no"
		}
		return b, ""
	case f.Kind == "list":
		return listArgument(f, raw)
	case f.Kind == "records":
		return recordsArgument(f, raw)
	case f.Kind == "json":
		if !json.Valid([]byte(raw)) {
			return nil, f.Name + " must be valid JSON: check quotes, commas and brackets"
		}
		return json.RawMessage(raw), ""
	case f.Kind != "number" && !(f.Kind == "select" && f.Numeric):
		return raw, ""
	}
	x, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		return nil, f.Name + " must be a number"
	}
	return x, ""
}

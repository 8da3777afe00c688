package dashboard

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/auth"
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

func (h *Handler) toolsList(c echo.Context) error {
	ctx := c.Request().Context()
	list, err := h.deps.Tools.Registry().List(ctx)
	if err != nil {
		return err
	}
	cursor := c.QueryParam("cursor")
	runs, err := h.deps.Tools.ListExecutions(ctx, viewer(c), tools.ExecutionFilter{}, cursor, executionsPageSize)
	if err != nil {
		return err
	}
	p := views.ToolsPage{Frame: frame(c, "Tools", views.URLTools, ""), Tools: list, Executions: runs.Items, OnFirst: cursor == "", Now: time.Now()}
	if runs.NextCursor != "" {
		p.NextURL = views.URLTools + "?cursor=" + runs.NextCursor
	}
	return h.render(c, http.StatusOK, views.ToolsList(p))
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

func statusOf(err error) int {
	if apperr.Is(err, apperr.Invalid) {
		return http.StatusUnprocessableEntity
	}
	return http.StatusOK
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

package api

import (
	"github.com/bizmcp/bizmcp/handlers/web"

	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/tools"
)

func (h *Handler) listTools(c echo.Context) error {
	list, err := h.deps.Tools.Registry().List(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": list})
}

type executeRequest struct {
	ToolName   string          `json:"tool_name"`
	Parameters json.RawMessage `json:"parameters"`
}

// executeTool runs a tool and answers with the execution record: 200 when
// it completed; when it failed, the error's status with the record's id in
// the problem (the failed run is recorded too).
func (h *Handler) executeTool(c echo.Context) error {
	var req executeRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.ToolName) == "" {
		return apperr.E(apperr.Invalid, "tool_name is required: one of %s", strings.Join(h.deps.Tools.Registry().Names(), ", "))
	}
	p, _ := web.PrincipalOf(c)
	if t, ok := h.deps.Tools.Registry().Lookup(req.ToolName); ok {
		if err := p.Require(t.Scope); err != nil {
			return err
		}
	}
	keyID := p.KeyID
	exec, err := h.deps.Tools.Execute(c.Request().Context(), tools.Request{
		Tool: req.ToolName, Arguments: req.Parameters, Source: tools.SourceREST, APIKeyID: &keyID,
	})
	if err != nil {
		if exec.ID != uuid.Nil {
			return web.ExecutionError{Err: err, ID: exec.ID}
		}
		return err
	}
	return c.JSON(http.StatusOK, exec)
}

func (h *Handler) listExecutions(c echo.Context) error {
	f := tools.ExecutionFilter{Tool: c.QueryParam("tool"), Source: c.QueryParam("source")}
	var err error
	if f.TaskID, err = web.QueryUUID(c, "task_id"); err != nil {
		return err
	}
	if f.AgentID, err = web.QueryUUID(c, "agent_id"); err != nil {
		return err
	}
	if v := c.QueryParam("failed"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return apperr.E(apperr.Invalid, "query parameter failed=%q must be true or false", apperr.Truncate(v, 16))
		}
		f.Failed = &b
	}
	limit, err := web.QueryInt(c, "limit")
	if err != nil {
		return err
	}
	p, _ := web.PrincipalOf(c)
	pg, err := h.deps.Tools.ListExecutions(c.Request().Context(), p, f, c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pg)
}

func (h *Handler) getExecution(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	p, _ := web.PrincipalOf(c)
	exec, err := h.deps.Tools.GetExecution(c.Request().Context(), p, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, exec)
}

type toolStatusRequest struct {
	Status string `json:"status"`
}

// setToolStatus enables or disables a tool (admin).
func (h *Handler) setToolStatus(c echo.Context) error {
	var req toolStatusRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	name := c.Param("name")
	if err := h.deps.Tools.Registry().SetStatus(c.Request().Context(), name, req.Status); err != nil {
		return err
	}
	list, err := h.deps.Tools.Registry().List(c.Request().Context())
	if err != nil {
		return err
	}
	for _, t := range list {
		if t.Name == name {
			return c.JSON(http.StatusOK, t)
		}
	}
	return apperr.E(apperr.NotFound, "tool %q not found", name)
}

// queryUUID reads an optional UUID query parameter.

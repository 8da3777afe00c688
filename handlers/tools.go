package handlers

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/tools"
)

func (s *Server) listTools(c echo.Context) error {
	list, err := s.deps.Tools.Registry().List(c.Request().Context())
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
func (s *Server) executeTool(c echo.Context) error {
	var req executeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.ToolName) == "" {
		return apperr.E(apperr.Invalid, "tool_name is required: one of %s", strings.Join(s.deps.Tools.Registry().Names(), ", "))
	}
	p, _ := principalOf(c)
	if t, ok := s.deps.Tools.Registry().Lookup(req.ToolName); ok {
		if err := p.Require(t.Scope); err != nil {
			return err
		}
	}
	keyID := p.KeyID
	exec, err := s.deps.Tools.Execute(c.Request().Context(), tools.Request{
		Tool: req.ToolName, Arguments: req.Parameters, Source: tools.SourceREST, APIKeyID: &keyID,
	})
	if err != nil {
		if exec.ID != uuid.Nil {
			return executionError{err: err, id: exec.ID}
		}
		return err
	}
	return c.JSON(http.StatusOK, exec)
}

// executionError is a failed run that was recorded: the problem document
// names the record.
type executionError struct {
	err error
	id  uuid.UUID
}

func (e executionError) Error() string { return e.err.Error() }
func (e executionError) Unwrap() error { return e.err }

func (s *Server) listExecutions(c echo.Context) error {
	f := tools.ExecutionFilter{Tool: c.QueryParam("tool"), Source: c.QueryParam("source")}
	var err error
	if f.TaskID, err = queryUUID(c, "task_id"); err != nil {
		return err
	}
	if f.AgentID, err = queryUUID(c, "agent_id"); err != nil {
		return err
	}
	if v := c.QueryParam("failed"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return apperr.E(apperr.Invalid, "query parameter failed=%q must be true or false", apperr.Truncate(v, 16))
		}
		f.Failed = &b
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	p, _ := principalOf(c)
	pg, err := s.deps.Tools.ListExecutions(c.Request().Context(), p, f, c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pg)
}

func (s *Server) getExecution(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	p, _ := principalOf(c)
	exec, err := s.deps.Tools.GetExecution(c.Request().Context(), p, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, exec)
}

type toolStatusRequest struct {
	Status string `json:"status"`
}

// setToolStatus enables or disables a tool (admin).
func (s *Server) setToolStatus(c echo.Context) error {
	var req toolStatusRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	name := c.Param("name")
	if err := s.deps.Tools.Registry().SetStatus(c.Request().Context(), name, req.Status); err != nil {
		return err
	}
	list, err := s.deps.Tools.Registry().List(c.Request().Context())
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
func queryUUID(c echo.Context, name string) (*uuid.UUID, error) {
	raw := c.QueryParam(name)
	if raw == "" {
		return nil, nil
	}
	id, err := uuid.Parse(raw)
	if err != nil {
		return nil, apperr.E(apperr.Invalid, "query parameter %s=%q is not a UUID", name, apperr.Truncate(raw, 64))
	}
	return &id, nil
}

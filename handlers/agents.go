package handlers

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/agents"
)

type createAgentRequest struct {
	Name         string          `json:"name"`
	Type         string          `json:"type"`
	Description  string          `json:"description"`
	Capabilities []string        `json:"capabilities"`
	Config       json.RawMessage `json:"config"`
}

func (s *Server) createAgent(c echo.Context) error {
	var req createAgentRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	a, err := s.deps.Agents.Create(c.Request().Context(), agents.CreateParams(req))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/admin/agents/"+a.ID.String())
	return c.JSON(http.StatusCreated, a)
}

func (s *Server) listAgents(c echo.Context) error {
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	pg, err := s.deps.Agents.List(c.Request().Context(), c.QueryParam("type"), c.QueryParam("status"), c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pg)
}

func (s *Server) getAgent(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	a, err := s.deps.Agents.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

type updateAgentRequest struct {
	Name        *string         `json:"name"`
	Description *string         `json:"description"`
	Config      json.RawMessage `json:"config"`
	Status      *string         `json:"status"`
}

// updateAgent renames, reconfigures, pauses ("status": "paused") or resumes
// ("status": "active") an agent.
func (s *Server) updateAgent(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	var req updateAgentRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	a, err := s.deps.Agents.Update(c.Request().Context(), id, agents.UpdateParams(req))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

// deleteAgent removes an idle or paused agent; a busy one is 409.
func (s *Server) deleteAgent(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	if err := s.deps.Agents.Delete(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

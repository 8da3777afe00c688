package api

import (
	"github.com/bizmcp/bizmcp/handlers/web"

	"encoding/json"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/agents"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/orchestrator"
)

type createAgentRequest struct {
	Name         string          `json:"name"`
	Type         string          `json:"type"`
	Description  string          `json:"description"`
	Capabilities []string        `json:"capabilities"`
	Config       json.RawMessage `json:"config"`
	// MaxConcurrency is how many tasks the agent runs at once (omitted:
	// the type's default).
	MaxConcurrency *int `json:"max_concurrency"`
}

func (h *Handler) createAgent(c echo.Context) error {
	var req createAgentRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	a, err := h.deps.Agents.Create(c.Request().Context(), agents.CreateParams(req))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/admin/agents/"+a.ID.String())
	return c.JSON(http.StatusCreated, a)
}

func (h *Handler) listAgents(c echo.Context) error {
	limit, err := web.QueryInt(c, "limit")
	if err != nil {
		return err
	}
	pg, err := h.deps.Agents.List(c.Request().Context(), c.QueryParam("type"), c.QueryParam("status"), c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pg)
}

func (h *Handler) getAgent(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	a, err := h.deps.Agents.Get(c.Request().Context(), id)
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
	// MaxConcurrency changes how many tasks the agent runs at once.
	MaxConcurrency *int `json:"max_concurrency"`
}

// updateAgent renames, reconfigures, pauses ("status": "paused") or resumes
// ("status": "active") an agent, or changes how many tasks it runs at once.
func (h *Handler) updateAgent(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	var req updateAgentRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	a, err := h.deps.Agents.Update(c.Request().Context(), id, agents.UpdateParams(req))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

// deleteAgent removes an idle or paused agent; a busy one is 409.
func (h *Handler) deleteAgent(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	if err := h.deps.Agents.Delete(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type sendMessageRequest struct {
	Type          string          `json:"type"`
	SenderID      *string         `json:"sender_id"`
	CorrelationID *string         `json:"correlation_id"`
	Payload       json.RawMessage `json:"payload"`
}

// sendMessage stores a message to the agent (write scope). A request
// carries a task for the agent ({"task": {...}}): 201 with the message, whose
// task_id names the task created for it.
func (h *Handler) sendMessage(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	var req sendMessageRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	p := orchestrator.SendParams{RecipientID: id, Type: req.Type, Payload: req.Payload}
	if p.SenderID, err = optionalUUID("sender_id", req.SenderID); err != nil {
		return err
	}
	if p.CorrelationID, err = optionalUUID("correlation_id", req.CorrelationID); err != nil {
		return err
	}
	m, err := h.deps.Tasks.Send(c.Request().Context(), p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, m)
}

func (h *Handler) listMessages(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	limit, err := web.QueryInt(c, "limit")
	if err != nil {
		return err
	}
	pg, err := h.deps.Tasks.Messages(c.Request().Context(), id, c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pg)
}

func optionalUUID(name string, raw *string) (*uuid.UUID, error) {
	if raw == nil || *raw == "" {
		return nil, nil
	}
	id, err := uuid.Parse(*raw)
	if err != nil {
		return nil, apperr.E(apperr.Invalid, "%s %q is not a UUID", name, apperr.Truncate(*raw, 64))
	}
	return &id, nil
}

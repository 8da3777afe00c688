package api

import (
	"github.com/bizmcp/bizmcp/handlers/web"

	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/orchestrator"
)

type createTaskRequest struct {
	Title          string          `json:"title"`
	Description    string          `json:"description"`
	Domain         string          `json:"domain"`
	Priority       string          `json:"priority"`
	InputData      json.RawMessage `json:"input_data"`
	TimeoutSeconds int             `json:"timeout_seconds"`
	MaxAttempts    int             `json:"max_attempts"`
}

type createTaskResponse struct {
	TaskID                  string     `json:"task_id"`
	Status                  string     `json:"status"`
	AgentID                 *string    `json:"agent_id"`
	EstimatedCompletionTime *time.Time `json:"estimated_completion_time"`
}

// createTask stores and enqueues a task (write scope): 201 with its id. The
// agent is chosen when the task starts, so agent_id is null here.
func (h *Handler) createTask(c echo.Context) error {
	var req createTaskRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	created, err := h.deps.Tasks.Create(c.Request().Context(), orchestrator.CreateParams{
		Title: req.Title, Description: req.Description, Domain: req.Domain, Priority: req.Priority, InputData: req.InputData,
		TimeoutSeconds: req.TimeoutSeconds, MaxAttempts: req.MaxAttempts,
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/resources/tasks/"+created.Task.ID.String())
	return c.JSON(http.StatusCreated, createTaskResponse{
		TaskID: created.Task.ID.String(), Status: created.Task.Status, EstimatedCompletionTime: created.EstimatedCompletionTime,
	})
}

func (h *Handler) listTasks(c echo.Context) error {
	f := orchestrator.Filter{Status: c.QueryParam("status"), Domain: c.QueryParam("domain"), Priority: c.QueryParam("priority")}
	var err error
	if f.AgentID, err = web.QueryUUID(c, "agent_id"); err != nil {
		return err
	}
	if f.ParentTaskID, err = web.QueryUUID(c, "parent_task_id"); err != nil {
		return err
	}
	if f.CreatedFrom, f.CreatedBefore, err = orchestrator.ParseCreatedRange(c.QueryParam("created_from"), c.QueryParam("created_to")); err != nil {
		return err
	}
	limit, err := web.QueryInt(c, "limit")
	if err != nil {
		return err
	}
	pg, err := h.deps.Tasks.List(c.Request().Context(), f, c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pg)
}

func (h *Handler) getTask(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	t, err := h.deps.Tasks.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

func (h *Handler) cancelTask(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	t, err := h.deps.Tasks.Cancel(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

func (h *Handler) retryTask(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	t, err := h.deps.Tasks.Retry(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

func (h *Handler) taskEvents(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	evs, err := h.deps.Tasks.Timeline(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": evs})
}

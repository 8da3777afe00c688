// Package api is bizmcp's REST API under /api/v1: JSON in and out, errors
// as problem+json, API keys for authentication. It is a thin adapter over
// the services in internal/; routes.go lists every route.
package api

import (
	"context"

	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/handlers/web"
	"github.com/bizmcp/bizmcp/internal/agents"
	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/health"
	"github.com/bizmcp/bizmcp/internal/metrics"
	"github.com/bizmcp/bizmcp/internal/orchestrator"
	"github.com/bizmcp/bizmcp/internal/ratelimit"
	"github.com/bizmcp/bizmcp/internal/tools"
)

// KeyService is what the REST API needs of API keys.
type KeyService interface {
	Verify(ctx context.Context, presented string) (auth.Principal, ratelimit.Result, error)
	Create(ctx context.Context, params auth.CreateParams) (auth.CreatedKey, error)
	List(ctx context.Context, filter auth.ListFilter, cursor string, limit int) (auth.ListPage, error)
	Get(ctx context.Context, id uuid.UUID) (auth.Key, error)
	Revoke(ctx context.Context, id uuid.UUID) (auth.Key, error)
}

// ToolService is what the REST API needs of the tools.
type ToolService interface {
	Registry() *tools.Registry
	Execute(ctx context.Context, req tools.Request) (tools.Execution, error)
	ListExecutions(ctx context.Context, viewer auth.Principal, f tools.ExecutionFilter, cursor string, limit int) (tools.ExecutionPage, error)
	GetExecution(ctx context.Context, viewer auth.Principal, id uuid.UUID) (tools.Execution, error)
}

// AgentService is what the REST API needs of the agent registry.
type AgentService interface {
	Create(ctx context.Context, p agents.CreateParams) (agents.Agent, error)
	Get(ctx context.Context, id uuid.UUID) (agents.Agent, error)
	List(ctx context.Context, typ, status, cursor string, limit int) (agents.ListPage, error)
	Update(ctx context.Context, id uuid.UUID, p agents.UpdateParams) (agents.Agent, error)
	Delete(ctx context.Context, id uuid.UUID) error
}

// TaskService is what the REST API needs of the orchestrator.
type TaskService interface {
	Create(ctx context.Context, p orchestrator.CreateParams) (orchestrator.Created, error)
	Get(ctx context.Context, id uuid.UUID) (orchestrator.Task, error)
	List(ctx context.Context, f orchestrator.Filter, cursor string, limit int) (orchestrator.ListPage, error)
	Cancel(ctx context.Context, id uuid.UUID) (orchestrator.Task, error)
	Retry(ctx context.Context, id uuid.UUID) (orchestrator.Task, error)
	Timeline(ctx context.Context, id uuid.UUID) ([]orchestrator.Event, error)
	Send(ctx context.Context, p orchestrator.SendParams) (orchestrator.Message, error)
	Messages(ctx context.Context, agentID uuid.UUID, cursor string, limit int) (orchestrator.MessagePage, error)
}

// Deps are the services the REST API is an adapter over.
type Deps struct {
	Metrics *metrics.Metrics
	Keys    KeyService
	Health  *health.Checker
	Tools   ToolService
	Agents  AgentService
	Tasks   TaskService
	// Events is the live event hub the WebSocket stream subscribes to.
	Events *events.Hub
	// Stopping is closed when the server begins to shut down, so long-lived
	// connections (WebSocket streams) end instead of holding the drain up.
	Stopping <-chan struct{}
}

// Handler serves the REST API.
type Handler struct {
	deps Deps
	mw   *web.Middleware
}

// New returns the REST API handler; Register mounts its routes.
func New(deps Deps, mw *web.Middleware) *Handler {
	return &Handler{deps: deps, mw: mw}
}

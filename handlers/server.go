// Package handlers holds bizmcp's HTTP adapters: REST, pages, metrics (and,
// as they land, MCP and WebSocket), all thin layers over the services in
// internal/. routes.go lists every route.
package handlers

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/agents"
	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/health"
	"github.com/bizmcp/bizmcp/internal/metrics"
	"github.com/bizmcp/bizmcp/internal/orchestrator"
	"github.com/bizmcp/bizmcp/internal/ratelimit"
	"github.com/bizmcp/bizmcp/internal/tools"
)

// KeyService is what the handlers need of API keys.
type KeyService interface {
	Verify(ctx context.Context, presented string) (auth.Principal, ratelimit.Result, error)
	Create(ctx context.Context, params auth.CreateParams) (auth.CreatedKey, error)
	List(ctx context.Context, cursor string, limit int) (auth.ListPage, error)
	Get(ctx context.Context, id uuid.UUID) (auth.Key, error)
	Revoke(ctx context.Context, id uuid.UUID) (auth.Key, error)
}

// ToolService is what the handlers need of the tools.
type ToolService interface {
	Registry() *tools.Registry
	Execute(ctx context.Context, req tools.Request) (tools.Execution, error)
	ListExecutions(ctx context.Context, viewer auth.Principal, f tools.ExecutionFilter, cursor string, limit int) (tools.ExecutionPage, error)
	GetExecution(ctx context.Context, viewer auth.Principal, id uuid.UUID) (tools.Execution, error)
}

// AgentService is what the handlers need of the agent registry.
type AgentService interface {
	Create(ctx context.Context, p agents.CreateParams) (agents.Agent, error)
	Get(ctx context.Context, id uuid.UUID) (agents.Agent, error)
	List(ctx context.Context, typ, status, cursor string, limit int) (agents.ListPage, error)
	Update(ctx context.Context, id uuid.UUID, p agents.UpdateParams) (agents.Agent, error)
	Delete(ctx context.Context, id uuid.UUID) error
}

// TaskService is what the handlers need of the orchestrator.
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

// Deps are the services and settings the HTTP layer is built from.
type Deps struct {
	Logger  *slog.Logger
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
	// MCP is the MCP server mounted at /mcp.
	MCP *mcp.Server
	// Conformance, when set, is mounted without authentication at
	// /conformance/mcp for the official conformance suite.
	Conformance *mcp.Server
	PublicURL   string
	// IPLimiter limits unauthenticated requests per client IP.
	IPLimiter            ratelimit.Limiter
	IPRateLimitPerMinute int
	MaxBodyBytes         int64
	// TrustProxyHeaders makes the client IP come from X-Forwarded-For /
	// X-Real-IP; only safe behind a reverse proxy that sets them.
	TrustProxyHeaders bool
}

// Server is the Echo application.
type Server struct {
	deps        Deps
	echo        *echo.Echo
	crossOrigin *http.CrossOriginProtection
}

// New builds the Echo application with its middleware and routes.
func New(deps Deps) *Server {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	if deps.TrustProxyHeaders {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	} else {
		e.IPExtractor = echo.ExtractIPDirect()
	}
	s := &Server{deps: deps, echo: e, crossOrigin: http.NewCrossOriginProtection()}
	if deps.PublicURL != "" {
		if err := s.crossOrigin.AddTrustedOrigin(s.publicOrigin()); err != nil {
			deps.Logger.Warn("PUBLIC_URL is not usable as a trusted origin", "err", err)
		}
	}
	e.HTTPErrorHandler = s.handleError
	s.routes()
	return s
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

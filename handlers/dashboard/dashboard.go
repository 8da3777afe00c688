// Package dashboard is bizmcp's browser dashboard: server-rendered pages
// (templ + htmx) for the operator and the key administrator, signed in with
// a session, and a live channel (/ws) that pushes rendered fragments. It is
// an adapter over the same services as the REST API; routes.go lists every
// page.
package dashboard

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/handlers/web"
	"github.com/bizmcp/bizmcp/internal/agents"
	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/health"
	"github.com/bizmcp/bizmcp/internal/metrics"
	"github.com/bizmcp/bizmcp/internal/orchestrator"
	"github.com/bizmcp/bizmcp/internal/ratelimit"
	"github.com/bizmcp/bizmcp/internal/stats"
	"github.com/bizmcp/bizmcp/internal/tools"
)

// KeyService is what the dashboard needs of API keys.
type KeyService interface {
	Create(ctx context.Context, params auth.CreateParams) (auth.CreatedKey, error)
	List(ctx context.Context, filter auth.ListFilter, cursor string, limit int) (auth.ListPage, error)
	Get(ctx context.Context, id uuid.UUID) (auth.Key, error)
	Revoke(ctx context.Context, id uuid.UUID) (auth.Key, error)
}

// SessionService signs operators in and finds their sessions.
type SessionService interface {
	SignIn(ctx context.Context, presented string) (auth.Session, string, error)
	Lookup(ctx context.Context, token string) (auth.Session, error)
	SignOut(ctx context.Context, id uuid.UUID) error
	DeleteExpired(ctx context.Context) (int64, error)
	Config() auth.SessionConfig
}

// TaskService is what the dashboard needs of the orchestrator.
type TaskService interface {
	Create(ctx context.Context, p orchestrator.CreateParams) (orchestrator.Created, error)
	Get(ctx context.Context, id uuid.UUID) (orchestrator.Task, error)
	List(ctx context.Context, f orchestrator.Filter, cursor string, limit int) (orchestrator.ListPage, error)
	Cancel(ctx context.Context, id uuid.UUID) (orchestrator.Task, error)
	Retry(ctx context.Context, id uuid.UUID) (orchestrator.Task, error)
	Timeline(ctx context.Context, id uuid.UUID) ([]orchestrator.Event, error)
}

// AgentService is what the dashboard needs of the agent registry.
type AgentService interface {
	Create(ctx context.Context, p agents.CreateParams) (agents.Agent, error)
	Get(ctx context.Context, id uuid.UUID) (agents.Agent, error)
	List(ctx context.Context, typ, status, cursor string, limit int) (agents.ListPage, error)
	Update(ctx context.Context, id uuid.UUID, p agents.UpdateParams) (agents.Agent, error)
	Delete(ctx context.Context, id uuid.UUID) error
}

// ToolService is what the dashboard needs of the tools.
type ToolService interface {
	Registry() *tools.Registry
	Execute(ctx context.Context, req tools.Request) (tools.Execution, error)
	ListExecutions(ctx context.Context, viewer auth.Principal, f tools.ExecutionFilter, cursor string, limit int) (tools.ExecutionPage, error)
	GetExecution(ctx context.Context, viewer auth.Principal, id uuid.UUID) (tools.Execution, error)
}

// StatsService serves the overview's cached aggregates.
type StatsService interface {
	Overview(ctx context.Context) (*stats.Overview, error)
}

// MessageService lists inter-agent messages.
type MessageService interface {
	Messages(ctx context.Context, agentID uuid.UUID, cursor string, limit int) (orchestrator.MessagePage, error)
	AllMessages(ctx context.Context, f orchestrator.MessageFilter, cursor string, limit int) (orchestrator.MessagePage, error)
}

// Deps are the services the dashboard is an adapter over.
type Deps struct {
	Logger   *slog.Logger
	Metrics  *metrics.Metrics
	Health   *health.Checker
	Keys     KeyService
	Sessions SessionService
	Tasks    TaskService
	Agents   AgentService
	Messages MessageService
	Tools    ToolService
	Stats    StatsService
	// Events is the live event hub the /ws channel subscribes to.
	Events *events.Hub
	// Stopping is closed when the server begins to shut down: live
	// channels close with 1012 so that pages reconnect to another instance
	// or to this one when it is back.
	Stopping <-chan struct{}
	// MCP is the server mounted at /mcp, whose catalogue the connect page
	// shows.
	MCP *mcp.Server
	// Limiter and LoginRateLimitPerMinute bound sign-in attempts per IP.
	Limiter                 ratelimit.Limiter
	LoginRateLimitPerMinute int
	// PublicURL, when set, is the address users reach the server at: the
	// connect page's endpoint, and https there makes cookies Secure.
	PublicURL string
	// DefaultRateLimit is the rate limit of a key created without one.
	DefaultRateLimit int
}

// Handler serves the dashboard.
type Handler struct {
	deps    Deps
	mw      *web.Middleware
	fanout  *liveHub
	catalog *mcpCatalog

	stopSweep context.CancelFunc
	sweepDone chan struct{}
}

// New returns the dashboard handler; Register mounts its routes, Start and
// Stop run its live fan-out.
func New(deps Deps, mw *web.Middleware) *Handler {
	h := &Handler{deps: deps, mw: mw, catalog: &mcpCatalog{server: deps.MCP}}
	h.fanout = newLiveHub(h)
	return h
}

// Start begins fanning live events out to connected pages, and deleting
// sessions that can no longer be used.
func (h *Handler) Start(ctx context.Context) {
	h.fanout.Start(ctx)
	ctx, h.stopSweep = context.WithCancel(ctx)
	h.sweepDone = make(chan struct{})
	go func() {
		defer close(h.sweepDone)
		h.sweepSessions(ctx)
	}()
}

// Stop closes every live connection with 1012, so pages reconnect (to this
// instance when it is back, or another).
func (h *Handler) Stop() {
	h.fanout.Stop()
	if h.stopSweep != nil {
		h.stopSweep()
		<-h.sweepDone
	}
}

// sessionSweepEvery is how often ended sessions are deleted. They are
// refused on lookup whether deleted or not: this only keeps the table small.
const sessionSweepEvery = time.Hour

func (h *Handler) sweepSessions(ctx context.Context) {
	t := time.NewTicker(sessionSweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := h.deps.Sessions.DeleteExpired(ctx); err != nil {
			h.deps.Logger.Warn("could not delete ended dashboard sessions", "err", err)
		} else if n > 0 {
			h.deps.Logger.Info("deleted ended dashboard sessions", "count", n)
		}
	}
}

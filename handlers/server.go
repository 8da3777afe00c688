// Package handlers assembles bizmcp's HTTP server: the shared middleware
// (handlers/web), the REST API (handlers/api), the dashboard
// (handlers/dashboard) and the MCP endpoint (mcp.go), all thin adapters over
// the services in internal/. routes.go shows where every request goes.
package handlers

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/handlers/api"
	"github.com/bizmcp/bizmcp/handlers/dashboard"
	"github.com/bizmcp/bizmcp/handlers/web"
	"github.com/bizmcp/bizmcp/internal/metrics"
	"github.com/bizmcp/bizmcp/internal/ratelimit"
)

// Deps are the services and settings the HTTP layer is built from.
type Deps struct {
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// API and Dashboard are the services each surface is an adapter over.
	API       api.Deps
	Dashboard dashboard.Deps
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
	deps      Deps
	echo      *echo.Echo
	mw        *web.Middleware
	api       *api.Handler
	dashboard *dashboard.Handler
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
	mw := web.NewMiddleware(web.Config{
		Logger: deps.Logger, Metrics: deps.Metrics, Keys: deps.API.Keys,
		IPLimiter: deps.IPLimiter, IPRateLimitPerMinute: deps.IPRateLimitPerMinute,
		MaxBodyBytes: deps.MaxBodyBytes, PublicURL: deps.PublicURL,
	})
	s := &Server{
		deps: deps, echo: e, mw: mw,
		api:       api.New(deps.API, mw),
		dashboard: dashboard.New(deps.Dashboard, mw),
	}
	e.HTTPErrorHandler = mw.HandleError
	mw.SetHTMLErrors(s.dashboard.RenderError)
	s.routes()
	return s
}

// Start runs the background work of the HTTP layer: the dashboard's live
// fan-out.
func (s *Server) Start(ctx context.Context) { s.dashboard.Start(ctx) }

// Stop ends it, closing live dashboard connections with 1012 so pages
// reconnect. Call it when shutdown begins, before draining requests.
func (s *Server) Stop() { s.dashboard.Stop() }

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

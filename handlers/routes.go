package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bizmcp/bizmcp/internal/conformance"
)

// routes is where every request enters. Middleware order: request id and
// logging first (so every line of a request carries its id), then metrics,
// panic recovery (inside metrics, so a panic is counted as the 500 it
// becomes) and the body limit. Each surface then declares its own routes,
// with their authentication, in its own routes.go:
//   - the dashboard's pages, static files and live channel: handlers/dashboard/routes.go
//   - the REST API under /api/v1: handlers/api/routes.go
//   - MCP at /mcp: below, served by the SDK (mcp.go)
func (s *Server) routes() {
	e := s.echo
	mw := s.mw
	e.Pre(mw.RequestID)
	e.Use(mw.AccessLog, mw.Measure, mw.RecoverPanic, mw.LimitBody)

	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.deps.Metrics.Registry, promhttp.HandlerOpts{})))
	s.dashboard.Register(e)
	s.api.Register(e)

	// MCP (Streamable HTTP: POST messages, GET stream, DELETE session).
	// Origin checks come before authentication: a foreign page gets 403
	// whatever key it holds.
	mcpHandler := echo.WrapHandler(s.mcpHandler(s.deps.MCP))
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		e.Add(m, "/mcp", mcpHandler, mw.GuardOrigin, mw.Authenticate, bearerForMCP)
	}
	if s.deps.Conformance != nil {
		conf := echo.WrapHandler(conformance.NewHandler(s.deps.Conformance,
			&mcp.StreamableHTTPOptions{Logger: s.deps.Logger, MaxRequestBodyBytes: s.deps.MaxBodyBytes}))
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			e.Add(m, "/conformance/mcp", conf, mw.GuardOrigin)
		}
	}
}

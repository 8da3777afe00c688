package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/conformance"
	"github.com/bizmcp/bizmcp/static"
)

// routes is the one place every route is declared. Middleware order: request
// id and logging first (so every line of a request carries its id), then
// metrics, panic recovery (inside metrics, so a panic is counted as the 500
// it becomes) and the body limit; authentication per group.
func (s *Server) routes() {
	e := s.echo
	e.Pre(s.requestID)
	e.Use(s.accessLog, s.measure, s.recoverPanic, s.limitBody)

	// Public: pages, static files, metrics, health. Limited per client IP.
	e.GET("/", s.home, s.limitByIP)
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", http.FileServerFS(static.FS))))
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.deps.Metrics.Registry, promhttp.HandlerOpts{})))
	e.GET("/api/v1/health", s.health, s.limitByIP)
	e.GET("/api/v1/health/live", s.live)
	e.GET("/api/v1/openapi.json", s.openAPI, s.limitByIP)

	// Everything else under /api/v1 needs an API key: authenticate (401,
	// 429), then the scope (403). Middleware is given per route, not per
	// group: Echo gives a group with middleware catch-all routes, which would
	// turn a wrong method (405) into a 404.
	key := s.authenticate
	read, write, admin := s.require(auth.ScopeRead), s.require(auth.ScopeWrite), s.require(auth.ScopeAdmin)
	api := e.Group("/api/v1")
	api.GET("/me", s.me, key)
	api.GET("/admin/keys", s.listKeys, key, admin)
	api.POST("/admin/keys", s.createKey, key, admin)
	api.GET("/admin/keys/:id", s.getKey, key, admin)
	api.DELETE("/admin/keys/:id", s.revokeKey, key, admin)
	api.GET("/tools", s.listTools, key, read)
	api.POST("/tools/execute", s.executeTool, key, write)
	api.GET("/tools/executions", s.listExecutions, key, read)
	api.GET("/tools/executions/:id", s.getExecution, key, read)
	api.PATCH("/admin/tools/:name", s.setToolStatus, key, admin)
	api.GET("/admin/agents", s.listAgents, key, read)
	api.POST("/admin/agents", s.createAgent, key, admin)
	api.GET("/admin/agents/:id", s.getAgent, key, read)
	api.PATCH("/admin/agents/:id", s.updateAgent, key, admin)
	api.DELETE("/admin/agents/:id", s.deleteAgent, key, admin)
	api.GET("/admin/agents/:id/messages", s.listMessages, key, read)
	api.POST("/admin/agents/:id/messages", s.sendMessage, key, write)
	api.GET("/resources/tasks", s.listTasks, key, read)
	api.POST("/resources/tasks", s.createTask, key, write)
	api.GET("/resources/tasks/:id", s.getTask, key, read)
	api.POST("/resources/tasks/:id/cancel", s.cancelTask, key, write)
	api.POST("/resources/tasks/:id/retry", s.retryTask, key, write)
	api.GET("/resources/tasks/:id/events", s.taskEvents, key, read)
	// Live events as JSON over WebSocket, for programs (gorilla/websocket).
	api.GET("/stream", s.stream, s.guardOrigin, key, read)

	// MCP (Streamable HTTP: POST messages, GET stream, DELETE session).
	// Origin checks come before authentication: a foreign page gets 403
	// whatever key it holds.
	mcpHandler := echo.WrapHandler(s.mcpHandler(s.deps.MCP))
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		e.Add(m, "/mcp", mcpHandler, s.guardOrigin, key, bearerForMCP)
	}
	if s.deps.Conformance != nil {
		conf := echo.WrapHandler(conformance.NewHandler(s.deps.Conformance,
			&mcp.StreamableHTTPOptions{Logger: s.deps.Logger, MaxRequestBodyBytes: s.deps.MaxBodyBytes}))
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			e.Add(m, "/conformance/mcp", conf, s.guardOrigin)
		}
	}
}

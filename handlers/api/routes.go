package api

import (
	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/auth"
)

// Register mounts the REST API under /api/v1. The shared middleware (request
// id, logging, metrics, recovery, body limit) runs before; here each route
// gets its authentication and scope. Middleware is given per route, not per
// group: Echo gives a group with middleware catch-all routes, which would
// turn a wrong method (405) into a 404.
func (h *Handler) Register(e *echo.Echo) {
	mw := h.mw
	e.GET("/api/v1/health", h.health, mw.LimitByIP)
	e.GET("/api/v1/health/live", h.live)
	e.GET("/api/v1/openapi.json", h.openAPI, mw.LimitByIP)

	// Authenticate (401, 429), then the scope (403).
	key := mw.Authenticate
	read, write, admin := mw.Require(auth.ScopeRead), mw.Require(auth.ScopeWrite), mw.Require(auth.ScopeAdmin)
	api := e.Group("/api/v1")
	api.GET("/me", h.me, key)
	api.GET("/admin/keys", h.listKeys, key, admin)
	api.POST("/admin/keys", h.createKey, key, admin)
	api.GET("/admin/keys/:id", h.getKey, key, admin)
	api.DELETE("/admin/keys/:id", h.revokeKey, key, admin)
	api.GET("/tools", h.listTools, key, read)
	api.POST("/tools/execute", h.executeTool, key, write)
	api.GET("/tools/executions", h.listExecutions, key, read)
	api.GET("/tools/executions/:id", h.getExecution, key, read)
	api.PATCH("/admin/tools/:name", h.setToolStatus, key, admin)
	api.GET("/admin/agents", h.listAgents, key, read)
	api.POST("/admin/agents", h.createAgent, key, admin)
	api.GET("/admin/agents/:id", h.getAgent, key, read)
	api.PATCH("/admin/agents/:id", h.updateAgent, key, admin)
	api.DELETE("/admin/agents/:id", h.deleteAgent, key, admin)
	api.GET("/admin/agents/:id/messages", h.listMessages, key, read)
	api.POST("/admin/agents/:id/messages", h.sendMessage, key, write)
	api.GET("/resources/tasks", h.listTasks, key, read)
	api.POST("/resources/tasks", h.createTask, key, write)
	api.GET("/resources/tasks/:id", h.getTask, key, read)
	api.POST("/resources/tasks/:id/cancel", h.cancelTask, key, write)
	api.POST("/resources/tasks/:id/retry", h.retryTask, key, write)
	api.GET("/resources/tasks/:id/events", h.taskEvents, key, read)
	// Live events as JSON over WebSocket, for programs (gorilla/websocket).
	api.GET("/stream", h.stream, mw.GuardOrigin, key, read)
}

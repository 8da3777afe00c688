package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bizmcp/bizmcp/internal/auth"
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

	// Everything else under /api/v1 needs an API key.
	api := e.Group("/api/v1", s.authenticate)
	admin := api.Group("/admin", s.require(auth.ScopeAdmin))
	admin.GET("/keys", s.listKeys)
	admin.POST("/keys", s.createKey)
	admin.GET("/keys/:id", s.getKey)
	admin.DELETE("/keys/:id", s.revokeKey)
	// Echo routes unknown /api/v1 paths through the group's middleware, so
	// they answer 401 before 404: the API's shape is not disclosed to
	// anonymous callers.
}

package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/health"
	"github.com/bizmcp/bizmcp/views"
)

// health answers 200 while the database answers (also when Redis is down:
// the server still serves, "degraded"), 503 otherwise.
func (s *Server) health(c echo.Context) error {
	report := s.deps.Health.Check(c.Request().Context())
	status := http.StatusOK
	if report.Status == health.StatusUnavailable {
		status = http.StatusServiceUnavailable
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(status, report)
}

// live answers 200 while the process serves HTTP, whatever its dependencies.
func (s *Server) live(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "alive"})
}

func (s *Server) home(c echo.Context) error {
	return s.render(c, http.StatusOK, views.Home(s.deps.Health.Check(c.Request().Context())))
}
